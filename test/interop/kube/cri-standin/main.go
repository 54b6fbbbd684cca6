// A container runtime stand-in for the kubelet of the interop tests: gRPC over cleartext HTTP/2 on a Unix
// socket that answers RuntimeService/Version (runtime API v1alpha2, as kubelet 1.20 asks) and UNIMPLEMENTED to
// every other call, so the kubelet registers its Node and serves, but never sees a ready runtime and starts
// nothing. Node's http2 refuses the socket path gRPC-Go 1.27 sends as :authority; Go's server takes it.
// Usage: cri-standin SOCKET. Each call is printed on stdout.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func field(number int, value string) []byte {
	return append([]byte{byte(number<<3 | 2), byte(len(value))}, value...)
}

func main() {
	listener, err := net.Listen("unix", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Println(r.URL.Path)
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Trailer", "Grpc-Status, Grpc-Message")
		if r.URL.Path == "/runtime.v1alpha2.RuntimeService/Version" {
			// kubeRuntimeAPIVersion "0.1.0", as kuberuntime_manager.go requires.
			message := append(append(append(field(1, "0.1.0"), field(2, "kubepki-test")...), field(3, "0.0.0")...), field(4, "v1alpha2")...)
			frame := make([]byte, 5, 5+len(message))
			binary.BigEndian.PutUint32(frame[1:], uint32(len(message)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(append(frame, message...))
			w.Header().Set("Grpc-Status", "0")
			return
		}
		w.WriteHeader(http.StatusOK)
		w.Header().Set("Grpc-Status", "12")
		w.Header().Set("Grpc-Message", "the kubepki test runtime runs nothing")
	})
	server := &http.Server{Handler: handler, Protocols: new(http.Protocols)}
	server.Protocols.SetUnencryptedHTTP2(true)
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
