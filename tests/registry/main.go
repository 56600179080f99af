// Command registry is a real OCI distribution registry on loopback for Aviary's tests: the
// registry of github.com/google/go-containerregistry (pkg/registry, the one `crane registry serve`
// runs), in memory, with the referrers API, behind HTTP Basic authentication for the
// repositories under -private (anonymous elsewhere), as a registry with public and private
// projects behaves.
//
// It listens on -listen (127.0.0.1:0 by default: a free port), prints "listening on ADDR" on
// stdout once it accepts connections, and serves until killed.
package main

import (
	"crypto/subtle"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/registry"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
	private := flag.String("private", "private/", "repositories under this prefix need -user and -password")
	user := flag.String("user", "aviary", "user name of the private repositories")
	password := flag.String("password", "s3cret", "password of the private repositories")
	verbose := flag.Bool("v", false, "log every request on stderr")
	flag.Parse()

	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		log.Fatalf("-listen %q: %v", *listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		log.Fatalf("-listen %q: only loopback addresses are allowed", *listen)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	logs := io.Discard
	if *verbose {
		logs = os.Stderr
	}
	opts := []registry.Option{registry.WithReferrersSupport(true), registry.Logger(log.New(logs, "", 0))}
	handler := guard(registry.New(opts...), "/v2/"+*private, *user, *password)
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, handler))
}

// guard asks every request for credentials in a Basic challenge on /v2/ (so that a client
// learns the scheme), lets anonymous requests through to public repositories, and refuses
// those of the private prefix without the right user and password.
func guard(next http.Handler, prefix, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		authorized := ok && equal(u, user) && equal(p, password)
		if ok && !authorized {
			challenge(w)
			return
		}
		if r.URL.Path == "/v2/" && !authorized {
			challenge(w)
			return
		}
		if strings.HasPrefix(r.URL.Path, prefix) && !authorized {
			challenge(w)
			return
		}
		next.ServeHTTP(&locating{ResponseWriter: w, r: r}, r)
	})
}

// locating adds the Location header that the distribution spec requires on the 201 answering a
// blob upload's final PUT (`/v2/<name>/blobs/<digest>`) and a manifest's PUT, which
// go-containerregistry's registry leaves out and spec-following clients (oci-client) insist on.
type locating struct {
	http.ResponseWriter
	r *http.Request
}

func (l *locating) WriteHeader(status int) {
	if status == http.StatusCreated && l.r.Method == http.MethodPut && l.Header().Get("Location") == "" {
		path := l.r.URL.Path
		if i := strings.Index(path, "/blobs/uploads/"); i >= 0 {
			if digest := l.r.URL.Query().Get("digest"); digest != "" {
				l.Header().Set("Location", path[:i]+"/blobs/"+digest)
			}
		} else if i := strings.Index(path, "/manifests/"); i >= 0 {
			ref := path[i+len("/manifests/"):]
			if digest := l.Header().Get("Docker-Content-Digest"); digest != "" {
				ref = digest
			}
			l.Header().Set("Location", path[:i]+"/manifests/"+ref)
		}
	}
	l.ResponseWriter.WriteHeader(status)
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="aviary-test-registry"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
}
