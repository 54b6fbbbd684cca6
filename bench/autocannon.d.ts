// The part of autocannon 9's API bench/load.ts uses (the package ships no types).
declare module 'autocannon' {
  interface Histogram {
    average: number;
    p50: number;
    p90: number;
    p99: number;
    max: number;
  }
  export interface Result {
    requests: Histogram & { total: number };
    latency: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    duration: number;
  }
  export interface Client {
    on(event: 'response', listener: (statusCode: number) => void): void;
  }
  export interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    setupRequest?: (request: Request) => Request;
  }
  export interface Options {
    url: string;
    connections: number;
    duration: number;
    timeout?: number;
    headers?: Record<string, string>;
    requests?: Request[];
    tlsOptions?: Record<string, unknown>;
    setupClient?: (client: Client) => void;
  }
  // eslint-disable-next-line no-restricted-syntax -- the package's own default export
  export default function autocannon(options: Options): Promise<Result>;
}
