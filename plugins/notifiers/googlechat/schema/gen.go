// Command gen writes src/chat_schema.json: the layout of the card types of
// google.golang.org/api/chat/v1 (chat.Card and chat.GoogleAppsCardV1Card and every type they
// reach), which Argo's googlechat service decodes a template's cards into and encodes again.
//
// It is not part of any build. To regenerate the file for another version of the API, run it
// from a Go module that requires google.golang.org/api at the version notifications-engine is
// built with (v0.227.0 for Argo Rollouts v1.10.1):
//
//	go run gen.go > ../src/chat_schema.json
//
// Each struct type is listed with its fields in declaration order, as [json name, type] (a
// third element "string" for the `,string` option), the type written as `string`, `bool`,
// `int64`, `float64`, a struct's name, or `*T` and `[]T` of those; `unmarshaler` marks a type
// with its own UnmarshalJSON (the float fields of those take "NaN" and "Infinity" strings).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"google.golang.org/api/chat/v1"
)

type structType struct {
	Fields      [][]string `json:"fields"`
	Unmarshaler bool       `json:"unmarshaler,omitempty"`
}

var (
	types       = map[string]*structType{}
	unmarshaler = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

func name(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Ptr:
		return "*" + name(t.Elem())
	case reflect.Slice:
		return "[]" + name(t.Elem())
	case reflect.String, reflect.Bool, reflect.Int64, reflect.Float64:
		if t.PkgPath() != "" {
			panic("named scalar " + t.String())
		}
		return t.Kind().String()
	case reflect.Struct:
		walk(t)
		return t.Name()
	}
	panic("unexpected kind " + t.String())
}

func walk(t reflect.Type) {
	if _, ok := types[t.Name()]; ok {
		return
	}
	s := &structType{Unmarshaler: reflect.PointerTo(t).Implements(unmarshaler)}
	types[t.Name()] = s
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous {
			panic("embedded field in " + t.Name())
		}
		parts := strings.Split(tag, ",")
		field := []string{parts[0], name(f.Type)}
		omitempty := false
		for _, option := range parts[1:] {
			switch option {
			case "omitempty":
				omitempty = true
			case "string":
				field = append(field, "string")
			default:
				panic("option " + option)
			}
		}
		if !omitempty || parts[0] == "" {
			panic("field without omitempty or a name: " + t.Name() + "." + f.Name)
		}
		s.Fields = append(s.Fields, field)
	}
}

func main() {
	walk(reflect.TypeOf(chat.Card{}))
	walk(reflect.TypeOf(chat.GoogleAppsCardV1Card{}))
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(os.Stdout, "{")
	for i, n := range names {
		entry, _ := json.Marshal(types[n])
		sep := ","
		if i == len(names)-1 {
			sep = ""
		}
		fmt.Fprintf(os.Stdout, "  %q: %s%s\n", n, entry, sep)
	}
	fmt.Fprintln(os.Stdout, "}")
}
