package simkit

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// HTTPServer is a handler served by a real http.Server on a loopback (or
// any) address. A nil *HTTPServer is a handler that was never started:
// URL is empty and Close does nothing.
type HTTPServer struct {
	srv *http.Server
	url string
}

// Listen serves h on addr ("127.0.0.1:0" picks a free port) until Close.
func Listen(addr string, h http.Handler) (*HTTPServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &HTTPServer{
		url: "http://" + ln.Addr().String(),
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			MaxHeaderBytes:    64 << 10,
		},
	}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is "http://host:port"; empty for a nil HTTPServer.
func (s *HTTPServer) URL() string {
	if s == nil {
		return ""
	}
	return s.url
}

// Close stops the server and closes its connections. It is a no-op for a
// nil HTTPServer.
func (s *HTTPServer) Close() error {
	if s == nil {
		return nil
	}
	err := s.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Shutdown stops the server gracefully (see http.Server.Shutdown). It is a
// no-op for a nil HTTPServer.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	if s == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}
