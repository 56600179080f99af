// Command golden writes what Aviary's hashes are checked against, computed by Argo Rollouts' own
// code at the version tests/argo pins:
//
//	golden layout            the JSON layout (field order, omitempty, inlining, custom marshalers)
//	                         of the Go types whose encoding/json output Argo hashes: the pod
//	                         template (k8s.io/api) and the canary steps (argo-rollouts v1alpha1)
//	golden hashes FILE...    for each Rollout manifest, Argo's rollouts-pod-template-hash (without
//	                         and with collisionCount 0 and 3) and its step hash
//	golden quantities Q...   each quantity as Go writes it after reading it
//	golden conditions FILE   each condition of FILE (golden-conditions.txt) evaluated against its
//	                         result by Argo's evaluate.EvalCondition, and the phase and message of
//	                         a measurement whose successCondition it is (evaluate.EvaluateResult)
//
// Aviary's gojson encoder (host/api/src/gojson.rs) reads the layout; its tests compare against the
// hashes; aviary/expr's tests (plugins/expr/tests/conditions.rs) compare against the conditions.
// Regenerate them with tests/argo/golden.sh after changing the pinned version.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/argoproj/argo-rollouts/pkg/apis/rollouts/v1alpha1"
	"github.com/argoproj/argo-rollouts/utils/conditions"
	"github.com/argoproj/argo-rollouts/utils/evaluate"
	"github.com/argoproj/argo-rollouts/utils/hash"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// Field is one struct field as encoding/json sees it.
type Field struct {
	JSON      string `json:"json"`
	Type      string `json:"type"`
	OmitEmpty bool   `json:"omitempty,omitempty"`
	OmitZero  bool   `json:"omitzero,omitempty"`
	Inline    bool   `json:"inline,omitempty"`
}

// Type is how encoding/json writes a Go type.
type Type struct {
	// struct, pointer, slice, map, string, bool, int, uint, float, bytes, or marshaler (the
	// type has its own MarshalJSON: Quantity, IntOrString, Time, ...).
	Kind   string  `json:"kind"`
	Elem   string  `json:"elem,omitempty"`
	Fields []Field `json:"fields,omitempty"`
	// For a marshaler: the Go kind underneath (struct, string, ...), which decides omitempty.
	Underlying string `json:"underlying,omitempty"`
}

var marshaler = reflect.TypeOf((*json.Marshaler)(nil)).Elem()

func name(t reflect.Type) string {
	switch {
	case t.Name() != "" && t.PkgPath() != "":
		return t.PkgPath() + "." + t.Name()
	case t.Name() != "":
		return t.Name()
	case t.Kind() == reflect.Pointer:
		return "*" + name(t.Elem())
	case t.Kind() == reflect.Slice:
		return "[]" + name(t.Elem())
	case t.Kind() == reflect.Map:
		return "map[" + name(t.Key()) + "]" + name(t.Elem())
	}
	return t.String()
}

func describe(t reflect.Type, out map[string]Type) string {
	n := name(t)
	if _, ok := out[n]; ok {
		return n
	}
	if t.Kind() != reflect.Pointer && (t.Implements(marshaler) || reflect.PointerTo(t).Implements(marshaler)) {
		out[n] = Type{Kind: "marshaler", Underlying: t.Kind().String()}
		return n
	}
	switch t.Kind() {
	case reflect.Pointer:
		out[n] = Type{Kind: "pointer"}
		out[n] = Type{Kind: "pointer", Elem: describe(t.Elem(), out)}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			out[n] = Type{Kind: "bytes"}
			break
		}
		out[n] = Type{Kind: "slice"}
		out[n] = Type{Kind: "slice", Elem: describe(t.Elem(), out)}
	case reflect.Map:
		out[n] = Type{Kind: "map"}
		out[n] = Type{Kind: "map", Elem: describe(t.Elem(), out)}
	case reflect.String:
		out[n] = Type{Kind: "string"}
	case reflect.Bool:
		out[n] = Type{Kind: "bool"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		out[n] = Type{Kind: "int"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		out[n] = Type{Kind: "uint"}
	case reflect.Float32, reflect.Float64:
		out[n] = Type{Kind: "float"}
	case reflect.Struct:
		out[n] = Type{Kind: "struct"} // placeholder against recursion
		var fields []Field
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			parts := strings.Split(tag, ",")
			field := Field{JSON: parts[0], Type: describe(f.Type, out)}
			for _, opt := range parts[1:] {
				switch opt {
				case "omitempty":
					field.OmitEmpty = true
				case "omitzero":
					field.OmitZero = true
				case "inline":
					field.Inline = true
				}
			}
			if f.Anonymous && parts[0] == "" {
				field.Inline = true
			}
			if field.JSON == "" && !field.Inline {
				field.JSON = f.Name
			}
			fields = append(fields, field)
		}
		out[n] = Type{Kind: "struct", Fields: fields}
	default:
		panic(fmt.Sprintf("unsupported kind %s of %s", t.Kind(), n))
	}
	return n
}

// rolloutSpecFields is v1alpha1.RolloutSpec without its methods (so without its MarshalJSON).
type rolloutSpecFields v1alpha1.RolloutSpec

func layout() error {
	types := map[string]Type{}
	roots := map[string]string{
		"PodTemplateSpec": describe(reflect.TypeOf(corev1.PodTemplateSpec{}), types),
		"CanarySteps":     describe(reflect.TypeOf([]v1alpha1.CanaryStep{}), types),
		// RolloutSpec's MarshalJSON writes the plain struct unless a workloadRef was resolved
		// into it (never the case for a Rollout the controller writes back): its fields, then.
		"RolloutSpec": describe(reflect.TypeOf(rolloutSpecFields{}), types),
		// What Argo writes when it creates an AnalysisRun from templates (a job metric's
		// embedded Job spec included).
		"AnalysisRunSpec": describe(reflect.TypeOf(v1alpha1.AnalysisRunSpec{}), types),
	}
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	ordered := make([]any, 0, len(names))
	for _, n := range names {
		ordered = append(ordered, struct {
			Name string `json:"name"`
			Type
		}{n, types[n]})
	}
	doc := map[string]any{"roots": roots, "types": ordered}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	return enc.Encode(doc)
}

func hashes(files []string) error {
	type result struct {
		File            string `json:"file"`
		PodTemplateHash string `json:"podTemplateHash"`
		WithCollision0  string `json:"withCollisionCount0"`
		WithCollision3  string `json:"withCollisionCount3"`
		StepHash        string `json:"stepHash"`
		TemplateJSON    string `json:"templateJson"`
	}
	var out []result
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var ro v1alpha1.Rollout
		if err := yaml.Unmarshal(data, &ro); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		// As Argo's syncHandler does: remarshal to normalise every field.
		b, _ := json.Marshal(ro)
		ro = v1alpha1.Rollout{}
		if err := json.Unmarshal(b, &ro); err != nil {
			return err
		}
		zero, three := int32(0), int32(3)
		tj, _ := json.Marshal(ro.Spec.Template)
		out = append(out, result{
			File:            f[strings.LastIndex(f, "/")+1:],
			PodTemplateHash: hash.ComputePodTemplateHash(&ro.Spec.Template, nil),
			WithCollision0:  hash.ComputePodTemplateHash(&ro.Spec.Template, &zero),
			WithCollision3:  hash.ComputePodTemplateHash(&ro.Spec.Template, &three),
			StepHash:        conditions.ComputeStepHash(&ro),
			TemplateJSON:    string(tj),
		})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// quantities prints, for each input, what Go writes after reading it as a Quantity (null when
// it refuses it), as Argo's remarshal of a Rollout does.
func quantities(inputs []string) error {
	out := make([][2]any, 0, len(inputs))
	for _, in := range inputs {
		var q resource.Quantity
		raw, _ := json.Marshal(in)
		if err := json.Unmarshal(raw, &q); err != nil {
			out = append(out, [2]any{in, nil})
			continue
		}
		b, _ := json.Marshal(q)
		var s string
		_ = json.Unmarshal(b, &s)
		out = append(out, [2]any{in, s})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// conditionResult decodes a case's result as Argo's providers hand it to EvaluateResult: JSON
// through encoding/json into an `any` (numbers are float64), as the web provider does; the bare
// tokens NaN, Infinity and -Infinity are the float64 a Prometheus query can give, and
// `[]float64 [...]` the []float64 of a Prometheus vector.
func conditionResult(text string) (any, error) {
	if vector, ok := strings.CutPrefix(text, "[]float64 "); ok {
		items := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(vector, "["), "]"))
		out := []float64{}
		for _, item := range strings.Split(items, ",") {
			if item = strings.TrimSpace(item); item == "" {
				continue
			}
			f, err := strconv.ParseFloat(item, 64)
			if err != nil {
				return nil, fmt.Errorf("result %s: %w", text, err)
			}
			out = append(out, f)
		}
		return out, nil
	}
	switch text {
	case "NaN":
		return math.NaN(), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("result %s: %w", text, err)
	}
	return v, nil
}

// evalConditions evaluates each case of file (lines `RESULT<TAB>EXPRESSION`; blank lines and lines
// starting with # are skipped) with Argo's own code: EvalCondition gives the boolean or the raw
// error, EvaluateResult with the expression as the only (success) condition gives the phase and
// the message Argo records on the measurement.
func evalConditions(file string) error {
	type result struct {
		Expression string  `json:"expression"`
		Result     string  `json:"result"`
		Value      *bool   `json:"value"`
		Error      *string `json:"error"`
		Phase      string  `json:"phase"`
		Message    string  `json:"message"`
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	logCtx := logrus.NewEntry(logrus.New())
	out := []result{}
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		text, expression, ok := strings.Cut(line, "\t")
		if !ok {
			return fmt.Errorf("%s: no TAB in %q", file, line)
		}
		value, err := conditionResult(text)
		if err != nil {
			return err
		}
		r := result{Expression: expression, Result: text}
		if b, err := evaluate.EvalCondition(value, expression); err != nil {
			msg := err.Error()
			r.Error = &msg
		} else {
			r.Value = &b
		}
		phase, err := evaluate.EvaluateResult(value, v1alpha1.Metric{SuccessCondition: expression}, *logCtx)
		r.Phase = string(phase)
		if err != nil {
			r.Message = err.Error()
		}
		out = append(out, r)
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

func main() {
	var err error
	switch {
	case len(os.Args) == 2 && os.Args[1] == "layout":
		err = layout()
	case len(os.Args) >= 3 && os.Args[1] == "hashes":
		err = hashes(os.Args[2:])
	case len(os.Args) >= 3 && os.Args[1] == "quantities":
		err = quantities(os.Args[2:])
	case len(os.Args) == 3 && os.Args[1] == "conditions":
		err = evalConditions(os.Args[2])
	default:
		err = fmt.Errorf("usage: golden layout | golden hashes FILE... | golden quantities Q... | golden conditions FILE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
