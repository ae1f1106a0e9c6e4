// Command handproxy is what a developer would write instead of the gateway
// for one user: net/http/httputil.ReverseProxy over an x/oauth2 Transport
// whose token source is a static token (oauth2.StaticTokenSource), with the
// idle-connection pool sized for the benchmark's concurrency (Go's default of
// 2 idle connections per host would make it churn connections).
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"golang.org/x/oauth2"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "upstream base URL")
	token := flag.String("token", "static-bench-token", "access token to inject")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConns = 1024
	base.MaxIdleConnsPerHost = 1024
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: *token, TokenType: "Bearer"}),
		Base:   base,
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	println("listening", ln.Addr().String())
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
