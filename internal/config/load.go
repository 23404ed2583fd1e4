package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// Part is what a command loads: the whole configuration or one of its parts.
type Part interface {
	Config | NATS | Amplience | Streams | Ingest | Telemetry
}

// ReadFile reads a secret file; tests replace it.
type ReadFile func(name string) ([]byte, error)

// Load reads the variables of T, the whole configuration or one part, through lookup. Every
// variable is read even when an earlier one is bad, so the returned [Problems] lists every
// decoding error at once; a variable that failed keeps its default. Values with a syntax of
// their own (AMPLIENCE_RATE_LIMIT, INGEST_SOURCES) are parsed here, once. Secrets given as
// NAME_FILE are read through readFile (nil: os.ReadFile). Loading the whole configuration also
// derives AMPLIENCE_TIMEOUT's default from INGEST_ACK_WAIT. Load does not check that the
// result is complete for a command: see the Validate methods.
func Load[T Part](ctx context.Context, lookup envconfig.Lookuper, readFile ReadFile) (T, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	var out T
	v := reflect.ValueOf(&out).Elem()
	var problems Problems
	for _, f := range fields(v.Type()) {
		if p := loadField(ctx, v.FieldByIndex(f.Index), f, lookup, readFile); p != "" {
			problems = append(problems, p)
		}
	}
	if c, ok := any(&out).(*Config); ok {
		if _, set := lookup.Lookup("AMPLIENCE_TIMEOUT"); !set && c.AckWait > 0 {
			c.Amplience.Timeout = DefaultTimeout(c.AckWait)
		}
	}
	if len(problems) > 0 {
		return out, problems
	}
	return out, nil
}

// loadField decodes the variable of field f into dst, then its NAME_FILE form for a secret,
// and returns what is wrong with them ("" when nothing is).
func loadField(ctx context.Context, dst reflect.Value, f reflect.StructField, lookup envconfig.Lookuper, readFile ReadFile) string {
	name := envName(f)
	// Each field is decoded on its own so that one bad value does not hide the next.
	one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: f.Name, Type: f.Type, Tag: f.Tag}}))
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: one.Interface(), Lookuper: lookup}); err != nil {
		one = reflect.New(one.Elem().Type())
		_ = envconfig.ProcessWith(ctx, &envconfig.Config{Target: one.Interface(), Lookuper: envconfig.MapLookuper(nil)})
		dst.Set(one.Elem().Field(0))
		return decodeProblem(name, f, lookup, err)
	}
	dst.Set(one.Elem().Field(0))
	if f.Tag.Get("secret") != "true" {
		return ""
	}
	secret, problem := secretFile(name, lookup, readFile)
	if secret != "" {
		dst.SetString(secret)
	}
	return problem
}

// secretFile reads the secret of variable name from the file NAME_FILE names. It returns ""
// and no problem when NAME_FILE is unset.
func secretFile(name string, lookup envconfig.Lookuper, readFile ReadFile) (secret, problem string) {
	file, ok := lookup.Lookup(name + "_FILE")
	switch {
	case !ok:
		return "", ""
	case file == "":
		return "", fmt.Sprintf("%s_FILE is set but empty; set it to the path of the file holding %s, or unset it", name, name)
	}
	if v, direct := lookup.Lookup(name); direct && v != "" {
		return "", fmt.Sprintf("%s and %s_FILE are both set; set only one", name, name)
	}
	b, err := readFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Sprintf("%s_FILE: the secret file %s does not exist; check the path (a mounted secret?)", name, file)
	}
	if err != nil {
		return "", fmt.Sprintf("%s_FILE: cannot read the secret file: %v", name, pathError(err))
	}
	secret = strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(secret) == "" {
		return "", fmt.Sprintf("%s_FILE: the secret file %s is empty; put %s in it", name, file, name)
	}
	return secret, ""
}

// Combine returns the problems Load reported followed by those a Validate found, leaving out
// a Validate problem that says a secret is empty when Load already said why its NAME_FILE
// gave nothing (empty variable, missing or empty file).
func Combine(load, check Problems) Problems {
	out := append(Problems{}, load...)
	var emptyFiles []string
	for _, l := range load {
		first, _, _ := strings.Cut(l, " ")
		if name, ok := strings.CutSuffix(strings.TrimSuffix(first, ":"), "_FILE"); ok {
			emptyFiles = append(emptyFiles, name+" is empty")
		}
	}
	for _, c := range check {
		if !slices.ContainsFunc(emptyFiles, func(e string) bool { return strings.Contains(c, e) }) {
			out = append(out, c)
		}
	}
	return out
}

// decodeProblem says what is wrong with the value of variable name, which could not be decoded
// into field f, and which values it accepts.
func decodeProblem(name string, f reflect.StructField, lookup envconfig.Lookuper, err error) string {
	if p, ok := errors.AsType[parseProblem](err); ok {
		return string(p)
	}
	raw, _ := lookup.Lookup(name)
	switch f.Type {
	case reflect.TypeFor[time.Duration]():
		return fmt.Sprintf("%s %q is not a duration; use a number with a unit: ms, s, m or h (30s, 1m30s, 2h)", name, raw)
	case reflect.TypeFor[bool]():
		return fmt.Sprintf("%s %q is not a boolean; use true or false (1 and 0 also work)", name, raw)
	case reflect.TypeFor[int]():
		return fmt.Sprintf("%s %q is not a whole number; use digits only, such as 16", name, raw)
	}
	return fmt.Sprintf("%s: %s", name, strings.TrimPrefix(err.Error(), f.Name+": "))
}

// parseProblem is the error of a value with a syntax of its own: its text is the problem.
type parseProblem string

func (p parseProblem) Error() string { return string(p) }

// pathError keeps an os error's operation and reason; the path is the operator's own setting.
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
	}
	return err
}

// Variables lists every environment variable the configuration reads, part by part in
// declaration order, including the NAME_FILE form of each secret.
func Variables() []string {
	var names []string
	for _, f := range fields(reflect.TypeFor[Config]()) {
		names = append(names, envName(f))
		if f.Tag.Get("secret") == "true" {
			names = append(names, envName(f)+"_FILE")
		}
	}
	return names
}

// Defaults returns the default of every variable that has one, by name.
func Defaults() map[string]string {
	out := make(map[string]string)
	for _, f := range fields(reflect.TypeFor[Config]()) {
		if _, def, ok := strings.Cut(f.Tag.Get("env"), "default="); ok {
			out[envName(f)] = def
		}
	}
	return out
}

// fields lists the fields of struct type t that name a variable, those of embedded parts
// included, each with its index from t.
func fields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("env") == "" && f.Type.Kind() == reflect.Struct {
			for _, sub := range fields(f.Type) {
				sub.Index = append([]int{i}, sub.Index...)
				out = append(out, sub)
			}
			continue
		}
		if envName(f) != "" {
			out = append(out, f)
		}
	}
	return out
}

func envName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
	return strings.TrimSpace(name)
}

func problemf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
