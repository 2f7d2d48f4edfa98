// helm-render renders a Helm chart the way `helm template` does, for tests on machines
// without helm: Go text/template with sprig's functions plus Helm's own (include, tpl,
// toYaml, fromYaml, toJson, required), .Values from values.yaml merged with -f files,
// .Release, .Chart and .Files (Get, GetBytes) objects. Each rendered document is parsed back as YAML (duplicate
// keys are errors), so a template that renders invalid YAML fails here.
//
// Usage: helm-render [-f values.yaml]... [-release NAME] [-namespace NS] [-json] [-notes] CHART_DIR
//
// Without -json it prints the manifests as helm template does ("---" and "# Source:"
// lines); with -json, one JSON array of the documents. -notes prints NOTES.txt instead.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type chartMeta struct {
	APIVersion  string   `yaml:"apiVersion"`
	Name        string   `yaml:"name"`
	Version     string   `yaml:"version"`
	AppVersion  string   `yaml:"appVersion"`
	Description string   `yaml:"description"`
	Type        string   `yaml:"type"`
	Keywords    []string `yaml:"keywords"`
}

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// readYAMLMap reads a YAML mapping file; an empty file is an empty map.
func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

// mergeValues merges src into dst like helm merges -f files: maps deeply, everything
// else (lists included) replaced; a null in src deletes the key.
func mergeValues(dst, src map[string]interface{}) {
	for k, sv := range src {
		if sv == nil {
			delete(dst, k)
			continue
		}
		sm, sIsMap := sv.(map[string]interface{})
		dm, dIsMap := dst[k].(map[string]interface{})
		if sIsMap && dIsMap {
			mergeValues(dm, sm)
		} else {
			dst[k] = sv
		}
	}
}

func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	_ = enc.Close()
	return strings.TrimSuffix(buf.String(), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// chartFiles is .Files: the chart's files outside templates/ (as helm loads them), by
// path relative to the chart directory.
type chartFiles map[string][]byte

// Get returns a file's contents, "" when there is no such file (as helm's does).
func (f chartFiles) Get(name string) string { return string(f[name]) }

// GetBytes returns a file's contents as bytes.
func (f chartFiles) GetBytes(name string) []byte { return f[name] }

// loadFiles reads what helm puts in .Files: every file but templates/, charts/,
// Chart.yaml and values.yaml.
func loadFiles(dir string) (chartFiles, error) {
	files := chartFiles{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if fi.IsDir() {
			if rel == "templates" || rel == "charts" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "Chart.yaml" || rel == "values.yaml" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[rel] = data
		return nil
	})
	return files, err
}

type renderer struct {
	root *template.Template
}

// newRenderer parses every file under templates/ into one template set, named
// "CHART/templates/FILE" as helm names them, with helm's functions.
func newRenderer(chartName, dir string) (*renderer, []string, error) {
	r := &renderer{}
	funcs := sprig.TxtFuncMap()
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	// Helm renders a missing value as empty, not "<no value>".
	r.root = template.New(chartName).Funcs(funcs).Option("missingkey=zero")

	var names []string
	err := filepath.Walk(filepath.Join(dir, "templates"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := path.Join(chartName, filepath.ToSlash(rel))
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if _, err := r.root.New(name).Parse(string(data)); err != nil {
			return err
		}
		names = append(names, name)
		return nil
	})
	sort.Strings(names)
	return r, names, err
}

func (r *renderer) render(name string, top map[string]interface{}) (string, error) {
	var buf bytes.Buffer
	data := map[string]interface{}{}
	for k, v := range top {
		data[k] = v
	}
	data["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Dir(name)}
	if err := r.root.ExecuteTemplate(&buf, name, data); err != nil {
		return "", err
	}
	return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
}

// documents splits a rendered manifest into its YAML documents, parsed; empty ones
// (a template whose condition is off, comments only) are left out.
func documents(text string) ([]map[string]interface{}, error) {
	dec := yaml.NewDecoder(strings.NewReader(text))
	var docs []map[string]interface{}
	for {
		var doc map[string]interface{}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

func run() error {
	var files valueFiles
	flag.Var(&files, "f", "values file merged over the chart's values.yaml (repeatable)")
	release := flag.String("release", "hgdiag", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	asJSON := flag.Bool("json", false, "print the documents as one JSON array")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt only")
	flag.Parse()
	if flag.NArg() != 1 {
		return errors.New("usage: helm-render [-f values.yaml]... [-release NAME] [-namespace NS] [-json] [-notes] CHART_DIR")
	}
	dir := flag.Arg(0)

	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return err
	}
	var meta chartMeta
	if err := yaml.Unmarshal(data, &meta); err != nil {
		return fmt.Errorf("Chart.yaml: %w", err)
	}
	if meta.Name == "" || meta.Version == "" || meta.APIVersion != "v2" {
		return errors.New("Chart.yaml: apiVersion v2, name and version are required")
	}
	values, err := readYAMLMap(filepath.Join(dir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range files {
		extra, err := readYAMLMap(f)
		if err != nil {
			return err
		}
		mergeValues(values, extra)
	}
	chartContents, err := loadFiles(dir)
	if err != nil {
		return err
	}
	top := map[string]interface{}{
		"Values": values,
		"Files":  chartContents,
		"Chart": map[string]interface{}{
			"Name": meta.Name, "Version": meta.Version, "AppVersion": meta.AppVersion,
			"Description": meta.Description, "Type": meta.Type, "APIVersion": meta.APIVersion,
			"Keywords": meta.Keywords,
		},
		"Release": map[string]interface{}{
			"Name": *release, "Namespace": *namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.29.0", "Major": "1", "Minor": "29"},
		},
	}

	r, names, err := newRenderer(meta.Name, dir)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	var all []map[string]interface{}
	for _, name := range names {
		base := path.Base(name)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != *notes {
			continue
		}
		if !isNotes && !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml") {
			continue
		}
		text, err := r.render(name, top)
		if err != nil {
			return err
		}
		if isNotes {
			out.WriteString(text)
			continue
		}
		docs, err := documents(text)
		if err != nil {
			return fmt.Errorf("%s renders invalid YAML: %w\n%s", name, err, text)
		}
		if len(docs) == 0 {
			continue
		}
		all = append(all, docs...)
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(text))
	}
	if *asJSON {
		b, err := json.MarshalIndent(all, "", "  ")
		if err != nil {
			return err
		}
		out.Reset()
		out.Write(b)
		out.WriteString("\n")
	}
	_, err = os.Stdout.Write(out.Bytes())
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "helm-render:", err)
		os.Exit(1)
	}
}
