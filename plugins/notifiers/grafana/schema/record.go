//go:build ignore

// Command record runs Argo's notification services (notifications-engine at the version Argo
// Rollouts v1.10.1 uses) against a test server on loopback for each case read from stdin, and
// prints each case with the requests the service made (method, request URI, the headers that
// matter, body) and the error it returned: the `src/testdata/requests.json` of aviary/grafana,
// aviary/newrelic and aviary/teams-workflows. A case names the service, its config (`{{URL}}`
// stands for the test server's URL), the recipient, the rendered template (Argo's
// `Notification` as JSON) and the test server's answer (`status`, `answer`). To record again,
// from a Go module that requires github.com/argoproj/notifications-engine at
// v0.5.1-0.20260503100631-0cff13b8a717:
//
//	go run record.go < ../src/testdata/requests.json > requests.json
//
// Grafana's annotation `time` (the clock) is recorded as 0.
package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"

	"github.com/argoproj/notifications-engine/pkg/services"
)

type request struct {
	Method  string            `json:"method"`
	URI     string            `json:"uri"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
}

type testCase struct {
	Name      string          `json:"name"`
	Service   string          `json:"service"`
	Config    json.RawMessage `json:"config"`
	Recipient string          `json:"recipient"`
	Template  json.RawMessage `json:"template"`
	Status    int             `json:"status,omitempty"`
	Answer    string          `json:"answer,omitempty"`
	Requests  []request       `json:"requests"`
	Err       *string         `json:"err"`
}

var headers = []string{"Content-Type", "Authorization", "X-Api-Key"}
var timeField = regexp.MustCompile(`"time":[0-9]+`)

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	for i := range cases {
		c := &cases[i]
		c.Requests = []request{}
		server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			got := request{Method: r.Method, URI: r.RequestURI, Headers: map[string]string{}, Body: string(body)}
			for _, h := range headers {
				if v, ok := r.Header[h]; ok {
					got.Headers[h] = strings.Join(v, ",")
				}
			}
			if c.Service == "grafana" {
				got.Body = timeField.ReplaceAllString(got.Body, `"time":0`)
			}
			c.Requests = append(c.Requests, got)
			status := c.Status
			if status == 0 {
				status = 200
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(c.Answer))
		}))
		config := strings.ReplaceAll(strings.ReplaceAll(string(c.Config), "{{URL}}", server.URL), "{{HOSTPORT}}", strings.TrimPrefix(server.URL, "http://"))
		svc, err := services.NewService(c.Service, []byte(config))
		if err != nil {
			panic(err)
		}
		var n services.Notification
		if err := json.Unmarshal(c.Template, &n); err != nil {
			panic(err)
		}
		err = svc.Send(n, services.Destination{Service: c.Service, Recipient: c.Recipient})
		if err != nil {
			text := strings.ReplaceAll(strings.ReplaceAll(err.Error(), server.URL, "{{URL}}"), strings.TrimPrefix(server.URL, "http://"), "{{HOSTPORT}}")
			c.Err = &text
		}
		server.Close()
	}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", " ")
	e.SetEscapeHTML(false)
	_ = e.Encode(cases)
}
