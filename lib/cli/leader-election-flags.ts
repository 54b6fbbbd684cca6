// kube-controller-manager's --leader-elect flags, shared by the commands that run a controller against a cluster.
import { PkiError } from '../errors.js';
import { DEFAULT_LEASE_DURATION_MS, DEFAULT_RENEW_DEADLINE_MS, DEFAULT_RETRY_PERIOD_MS, type LeaderElectionOptions } from '../bootstrap/leader-election.js';
import { optional, parseDuration, printable, type Io, type VerbOption } from './io.js';

export const LEADER_ELECTION_FLAGS = {
  'leader-elect': { type: 'boolean', description: 'with --watch: run as one replica of several, acting only while holding a kube-system Lease' },
  'leader-elect-lease-name': { type: 'string', value: 'NAME', description: 'the Lease in kube-system', default: 'kubepki-<command>' },
  'leader-elect-lease-duration': { type: 'string', value: 'DURATION', description: 'how long a Lease not renewed stays held', default: `${DEFAULT_LEASE_DURATION_MS / 1000}s` },
  'leader-elect-renew-deadline': { type: 'string', value: 'DURATION', description: 'how long the leader tries to renew before it stops leading', default: `${DEFAULT_RENEW_DEADLINE_MS / 1000}s` },
  'leader-elect-retry-period': { type: 'string', value: 'DURATION', description: 'the wait between two tries to take or renew the Lease', default: `${DEFAULT_RETRY_PERIOD_MS / 1000}s` },
} as const satisfies Record<string, VerbOption>;

export const LEADER_ELECTION_USAGE = `[--leader-elect [--leader-elect-lease-name NAME] [--leader-elect-lease-duration ${DEFAULT_LEASE_DURATION_MS / 1000}s] [--leader-elect-renew-deadline ${DEFAULT_RENEW_DEADLINE_MS / 1000}s] [--leader-elect-retry-period ${DEFAULT_RETRY_PERIOD_MS / 1000}s]]`;

/** The election the flags ask for (without its connection), and the promise of its loss. */
export interface ElectionFromFlags {
  readonly options: LeaderElectionOptions;
  /** Resolves when this replica led and lost the Lease, with the line to print. */
  readonly lost: Promise<string>;
}

/**
 * `--leader-elect` and its settings (kube-system/`leaseName` by default), or undefined without it; the other
 * --leader-elect-* flags alone, or --leader-elect without --watch, are ERR_ARGUMENT. Leadership changes are
 * told on standard error.
 */
export function leaderElectionFromFlags(values: Record<string, unknown>, context: { leaseName: string; watch: boolean; io: Io }): ElectionFromFlags | undefined {
  if (!values['leader-elect']) {
    const stray = Object.keys(LEADER_ELECTION_FLAGS).find((flag) => flag !== 'leader-elect' && values[flag] !== undefined);
    if (stray) throw new PkiError('ERR_ARGUMENT', 'needs --leader-elect', { field: `--${stray}` });
    return undefined;
  }
  if (!context.watch) throw new PkiError('ERR_ARGUMENT', 'needs --watch: a replica that is not leading has nothing to do once', { field: '--leader-elect' });
  const durationMs = (flag: string, fallback: number): number => {
    const text = optional(values, flag);
    if (text === undefined) return fallback;
    const seconds = parseDuration(text, `--${flag}`);
    if (seconds <= 0) throw new PkiError('ERR_ARGUMENT', 'must be positive', { field: `--${flag}` });
    return seconds * 1000;
  };
  const leaseName = optional(values, 'leader-elect-lease-name') ?? context.leaseName;
  const { io } = context;
  let lose!: (line: string) => void;
  const lost = new Promise<string>((resolve) => (lose = resolve));
  const settings = {
    leaseDurationMs: durationMs('leader-elect-lease-duration', DEFAULT_LEASE_DURATION_MS),
    renewDeadlineMs: durationMs('leader-elect-renew-deadline', DEFAULT_RENEW_DEADLINE_MS),
    retryPeriodMs: durationMs('leader-elect-retry-period', DEFAULT_RETRY_PERIOD_MS),
  };
  // client-go's rules between the three durations, checked before anything starts.
  if (!(settings.leaseDurationMs > settings.renewDeadlineMs)) throw new PkiError('ERR_ARGUMENT', 'must be longer than --leader-elect-renew-deadline', { field: '--leader-elect-lease-duration' });
  if (!(settings.renewDeadlineMs > 1.2 * settings.retryPeriodMs)) throw new PkiError('ERR_ARGUMENT', 'must be longer than 1.2 x --leader-elect-retry-period', { field: '--leader-elect-renew-deadline' });
  const where = `kube-system/${printable(leaseName)}`;
  return {
    lost,
    options: {
      leaseName,
      ...settings,
      onNewLeader: (identity) => io.err(identity ? `kubepki: lease ${where} is held by ${printable(identity)}` : `kubepki: lease ${where} was released`),
      onStartedLeading: () => io.err(`kubepki: leading (lease ${where})`),
      onStoppedLeading: () => lose(`kubepki: leader election lost: lease ${where} was not renewed within ${settings.renewDeadlineMs / 1000}s or another replica holds it`),
      onError: (error) => io.err(`kubepki: leader election: ${printable(error instanceof Error ? error.message : String(error))}`),
    },
  };
}
