//go:build ignore

// Command yaml_cases prints what sigs.k8s.io/yaml (v1.6.0, as notifications-engine requires it,
// over go-yaml v2) makes of YAML texts: the recorded answers of src/testdata/yaml.json, which
// the crate's YAML reader is tested against. Edit `inputs` and run it from a Go module that
// requires sigs.k8s.io/yaml v1.6.0:
//
//	go run yaml_cases.go > cases.json
//
// then add the new cases to src/testdata/yaml.json.
package main

import (
	"encoding/json"
	"os"

	"sigs.k8s.io/yaml"
)

type yamlCase struct {
	In  string `json:"in"`
	Out string `json:"out,omitempty"`
	Err string `json:"err,omitempty"`
}

var inputs = []string{
	"[x:]", "{a: x:, b: y}", "[a, x:, {b: c:}]", "{x:: 1}",
	"a: \"it\\'s\"",
	"base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3",
	"a: &a {x: 1}\nb: &b {x: 2, z: 2}\nm:\n  <<: [*a, *b]\n  w: 0",
	"m:\n  x: 0\n  <<: {x: 1}",
	"m:\n  <<: 1",
	"a: \"1\"\n\t\nb: 2",
	"a: |\n  x\n  y",
	"a: |+\n  x",
	"- >\n  folded\n  end",
	"a: |\n  x\n# c",
	"a: |\n  x\nb:\n  c",
	"[a, -, b]",
	"- [-, -]",
	"{a: -}",
	"a: [x\n\ty]",
	"a:\n  b: |\n    x\n\t\n  c: 1",
	"'a\tb': 1",
	"a: \"x\\ty\t\"",
	"a: 'x\n\t y'",
	"{\"a\":b}",
	"a: !!binary aGk=",
	"a: !!timestamp 2001-01-01",
	"a: !!str [1]",
	"? a\n: b",
	"[1, [2, [3]]]",
	"a: 'x' # c\n\t\nb: 1",
}

func main() {
	var out []yamlCase
	for _, in := range inputs {
		j, err := yaml.YAMLToJSON([]byte(in))
		if err != nil {
			out = append(out, yamlCase{In: in, Err: err.Error()})
		} else {
			out = append(out, yamlCase{In: in, Out: string(j)})
		}
	}
	e := json.NewEncoder(os.Stdout)
	e.SetIndent("", " ")
	_ = e.Encode(out)
}
