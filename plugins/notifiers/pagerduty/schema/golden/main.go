// Golden requests of notifications-engine's services (Argo Rollouts v1.10.1's version): each
// case's service is built from its config by services.NewService (as Argo parses
// `service.<type>`), its template rendered by the engine's templater, and Send run against an
// httptest server on loopback answering the case's scripted responses. The requests the server
// got and Send's error are printed as JSON.
//
// go run -ldflags=-checklinkname=0 . < cases.json > golden.json
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	texttemplate "text/template"
	_ "unsafe"

	"github.com/argoproj/notifications-engine/pkg/services"
)

// go-pagerduty's own client (its endpoint is a constant): replaced by one that sends to the
// test server.
//
//go:linkname pagerdutyClient github.com/PagerDuty/go-pagerduty.defaultHTTPClient
var pagerdutyClient interface {
	Do(*http.Request) (*http.Response, error)
}

type response struct {
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	Status      int               `json:"status"`
	ContentType string            `json:"contentType"`
	Headers     map[string]string `json:"headers,omitempty"`
	Body        string            `json:"body"`
	Raw         bool              `json:"raw,omitempty"`
}

type testCase struct {
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	Config    json.RawMessage `json:"config"`
	Recipient string          `json:"recipient"`
	Template  json.RawMessage `json:"template"`
	Vars      json.RawMessage `json:"vars,omitempty"`
	Responses []response      `json:"responses,omitempty"`
	// Down: the server is closed before Send (a connection refused).
	Down bool `json:"down,omitempty"`
}

type recorded struct {
	Method  string            `json:"method"`
	URI     string            `json:"uri"`
	Host    string            `json:"host"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type result struct {
	Name     string     `json:"name"`
	Requests []recorded `json:"requests"`
	Error    *string    `json:"error"`
	Panic    string     `json:"panic,omitempty"`
	// Server: the test server's URL (what SERVER stands for), which signatures cover.
	Server string `json:"server"`
}

// Headers the transport adds whatever the service does.
var transportHeaders = map[string]bool{"Accept-Encoding": true, "Content-Length": true}

type rewrite struct{ target *url.URL }

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.URL.Scheme = r.target.Scheme
	out.URL.Host = r.target.Host
	out.Host = req.URL.Host
	return http.DefaultTransport.RoundTrip(out)
}

func run(c testCase) (res result) {
	res.Name = c.Name
	var mu sync.Mutex
	used := map[int]bool{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for k, v := range r.Header {
			if !transportHeaders[k] {
				h[k] = strings.Join(v, "\n")
			}
		}
		mu.Lock()
		res.Requests = append(res.Requests, recorded{Method: r.Method, URI: r.RequestURI, Host: r.Host, Headers: h, Body: string(b)})
		pick := -1
		for i, resp := range c.Responses {
			if resp.Method == r.Method && resp.Path == r.URL.Path {
				if !used[i] {
					pick = i
					break
				}
				pick = i
			}
		}
		if pick >= 0 {
			used[pick] = true
		}
		mu.Unlock()
		if pick < 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			_, _ = w.Write([]byte("{}"))
			return
		}
		resp := c.Responses[pick]
		if resp.ContentType != "" {
			w.Header().Set("Content-Type", resp.ContentType)
		}
		for k, v := range resp.Headers {
			w.Header().Set(k, v)
		}
		if resp.Raw {
			// A broken connection: no response at all.
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
			return
		}
		w.WriteHeader(resp.Status)
		_, _ = w.Write([]byte(resp.Body))
	}))
	defer ts.Close()
	server := ts.URL
	if c.Down {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		server = "http://" + l.Addr().String()
		_ = l.Close()
	}
	target, _ := url.Parse(server)
	res.Server = server
	pagerdutyClient = &http.Client{Transport: rewrite{target}}

	config := strings.ReplaceAll(string(c.Config), "HOSTPORT", target.Host)
	config = strings.ReplaceAll(config, "SERVER", server)
	defer func() {
		if p := recover(); p != nil {
			res.Panic = fmt.Sprint(p)
		}
	}()
	service, err := services.NewService(c.Type, []byte(config))
	if err != nil {
		e := "NewService: " + err.Error()
		res.Error = &e
		return
	}
	var written services.Notification
	if err := json.Unmarshal(c.Template, &written); err != nil {
		e := "template: " + err.Error()
		res.Error = &e
		return
	}
	templater, err := written.GetTemplater(c.Name, texttemplate.FuncMap{})
	if err != nil {
		e := "GetTemplater: " + err.Error()
		res.Error = &e
		return
	}
	vars := map[string]any{"rollout": map[string]any{"metadata": map[string]any{"name": "shop"}}}
	if len(c.Vars) > 0 {
		_ = json.Unmarshal(c.Vars, &vars)
	}
	var notification services.Notification
	if err := templater(&notification, vars); err != nil {
		e := "templater: " + err.Error()
		res.Error = &e
		return
	}
	_ = context.Background
	if err := service.Send(notification, services.Destination{Service: c.Type, Recipient: c.Recipient}); err != nil {
		e := strings.ReplaceAll(err.Error(), server, "SERVER")
		res.Error = &e
	}
	for i := range res.Requests {
		res.Requests[i].Host = strings.ReplaceAll(res.Requests[i].Host, target.Host, "SERVERHOST")
		for k, v := range res.Requests[i].Headers {
			res.Requests[i].Headers[k] = strings.ReplaceAll(v, target.Host, "SERVERHOST")
		}
	}
	return res
}

func main() {
	var cases []testCase
	data, _ := io.ReadAll(os.Stdin)
	if err := json.Unmarshal(data, &cases); err != nil {
		panic(err)
	}
	results := make([]result, 0, len(cases))
	for _, c := range cases {
		results = append(results, run(c))
	}
	sort.SliceStable(results, func(i, j int) bool { return false })
	out, _ := json.MarshalIndent(results, "", "  ")
	fmt.Println(string(out))
}
