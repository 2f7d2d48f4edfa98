// helm-render renders a Helm chart the way `helm template` does, for tests on machines
// without helm: Go text/template with sprig's functions plus Helm's own (include, tpl,
// toYaml, fromYaml, toJson, required), .Values from values.yaml merged with -f files,
// .Release, .Chart and .Files (Get, GetBytes) objects. Each rendered document is parsed back as YAML (duplicate
// keys are errors), so a template that renders invalid YAML fails here.
//
// Dependencies are loaded as Helm loads them: every chart directory under charts/, and
// every Chart.yaml `dependencies` entry (a `repository: file://PATH` is read from PATH,
// as if `helm dependency update` had copied it into charts/; `alias` renames it). A
// dependency's values.yaml is coalesced under .Values.<name> (the parent's values win,
// a null deletes), globals flow down; its templates join the one template set, so its
// named templates can be included; a `type: library` chart's only templates are its
// partials (_*.tpl), never rendered; an application subchart's templates render with its
// own .Values scope and .Chart.
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

type dependency struct {
	Name       string `yaml:"name"`
	Version    string `yaml:"version"`
	Repository string `yaml:"repository"`
	Alias      string `yaml:"alias"`
	Condition  string `yaml:"condition"`
}

type chartMeta struct {
	APIVersion   string       `yaml:"apiVersion"`
	Name         string       `yaml:"name"`
	Version      string       `yaml:"version"`
	AppVersion   string       `yaml:"appVersion"`
	Description  string       `yaml:"description"`
	Type         string       `yaml:"type"`
	Keywords     []string     `yaml:"keywords"`
	Dependencies []dependency `yaml:"dependencies"`
}

// chart is a loaded chart: its metadata, directory, default values and dependencies
// (name is the alias when the parent gave one).
type chart struct {
	name   string
	meta   chartMeta
	dir    string
	values map[string]interface{}
	files  chartFiles // .Files
	deps   []*chart
}

func (c *chart) isLibrary() bool { return c.meta.Type == "library" }

// loadChart reads DIR/Chart.yaml, DIR/values.yaml and the dependencies, recursively.
func loadChart(dir string, depth int) (*chart, error) {
	if depth > 10 {
		return nil, fmt.Errorf("%s: dependencies nested too deep (a cycle?)", dir)
	}
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	c := &chart{dir: dir}
	if err := yaml.Unmarshal(data, &c.meta); err != nil {
		return nil, fmt.Errorf("%s/Chart.yaml: %w", dir, err)
	}
	if c.meta.Name == "" || c.meta.Version == "" || c.meta.APIVersion != "v2" {
		return nil, fmt.Errorf("%s/Chart.yaml: apiVersion v2, name and version are required", dir)
	}
	if c.meta.Type != "" && c.meta.Type != "application" && c.meta.Type != "library" {
		return nil, fmt.Errorf("%s/Chart.yaml: type %q is neither application nor library", dir, c.meta.Type)
	}
	c.name = c.meta.Name
	c.values = map[string]interface{}{}
	if _, err := os.Stat(filepath.Join(dir, "values.yaml")); err == nil {
		if c.values, err = readYAMLMap(filepath.Join(dir, "values.yaml")); err != nil {
			return nil, err
		}
	}
	if c.files, err = loadFiles(dir); err != nil {
		return nil, err
	}
	// charts/: every chart directory there is a dependency, listed or not.
	found := map[string]*chart{}
	entries, _ := os.ReadDir(filepath.Join(dir, "charts"))
	for _, e := range entries {
		sub := filepath.Join(dir, "charts", e.Name())
		if !e.IsDir() {
			if strings.HasSuffix(e.Name(), ".tgz") {
				return nil, fmt.Errorf("%s: packaged charts are not read by this renderer; unpack it", sub)
			}
			continue
		}
		d, err := loadChart(sub, depth+1)
		if err != nil {
			return nil, err
		}
		found[d.meta.Name] = d
	}
	listed := map[string]bool{}
	for _, dep := range c.meta.Dependencies {
		if dep.Name == "" {
			return nil, fmt.Errorf("%s/Chart.yaml: a dependency without a name", dir)
		}
		d := found[dep.Name]
		if d == nil && strings.HasPrefix(dep.Repository, "file://") {
			p := strings.TrimPrefix(dep.Repository, "file://")
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			if d, err = loadChart(p, depth+1); err != nil {
				return nil, fmt.Errorf("dependency %s: %w", dep.Name, err)
			}
			if d.meta.Name != dep.Name {
				return nil, fmt.Errorf("dependency %s: %s is the chart %q", dep.Name, p, d.meta.Name)
			}
		}
		if d == nil {
			return nil, fmt.Errorf("%s/Chart.yaml: dependency %s found in Chart.yaml, but missing in charts/ directory", dir, dep.Name)
		}
		if dep.Condition != "" {
			return nil, fmt.Errorf("%s/Chart.yaml: dependency %s: conditions are not supported by this renderer", dir, dep.Name)
		}
		listed[dep.Name] = true
		if dep.Alias != "" {
			cp := *d
			cp.name = dep.Alias
			d = &cp
		}
		c.deps = append(c.deps, d)
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !listed[n] {
			c.deps = append(c.deps, found[n])
		}
	}
	return c, nil
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}

// coalesceTables fills dst with what it lacks from src (Helm's coalesceTablesFullKey):
// dst wins, tables merge, a null in dst deletes the key.
func coalesceTables(dst, src map[string]interface{}) {
	for k, sv := range src {
		dv, ok := dst[k]
		switch {
		case ok && dv == nil:
			delete(dst, k)
		case !ok:
			dst[k] = deepCopy(sv)
		default:
			sm, sIsMap := sv.(map[string]interface{})
			dm, dIsMap := dv.(map[string]interface{})
			if sIsMap && dIsMap {
				coalesceTables(dm, sm)
			}
		}
	}
}

// coalesceDeps gives every dependency its values under .Values.<name>, as Helm's
// coalesceDeps does: what the parent set there wins over the dependency's values.yaml,
// and the parent's globals are merged into the dependency's.
func coalesceDeps(c *chart, dest map[string]interface{}) error {
	for _, d := range c.deps {
		cur, ok := dest[d.name]
		if !ok || cur == nil {
			cur = map[string]interface{}{}
		}
		m, isMap := cur.(map[string]interface{})
		if !isMap {
			return fmt.Errorf("values: %s is the dependency %s's values, not a table", d.name, d.name)
		}
		if g, ok := dest["global"].(map[string]interface{}); ok {
			sg, _ := m["global"].(map[string]interface{})
			if sg == nil {
				sg = map[string]interface{}{}
			}
			coalesceTables(sg, g)
			m["global"] = sg
		}
		coalesceTables(m, d.values)
		dest[d.name] = m
		if err := coalesceDeps(d, m); err != nil {
			return err
		}
	}
	return nil
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
// else (lists included) replaced; a null is kept, to delete the chart's (or a
// dependency's) default when the values are coalesced.
func mergeValues(dst, src map[string]interface{}) {
	for k, sv := range src {
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

// tmpl is one template to render, with the chart whose scope it renders in.
type tmpl struct {
	name  string
	chart *chart
	scope []string // the keys from the top .Values down to this chart's
}

type renderer struct {
	root *template.Template
}

// newRenderer parses every file under templates/ of the chart and of its dependencies
// into one template set, named "CHART/templates/FILE" and
// "CHART/charts/DEP/templates/FILE" as helm names them, with helm's functions. It
// returns the templates to render: a library chart's are none.
func newRenderer(top *chart) (*renderer, []tmpl, error) {
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
	r.root = template.New(top.name).Funcs(funcs).Option("missingkey=zero")

	var out []tmpl
	var walk func(c *chart, prefix string, scope []string) error
	walk = func(c *chart, prefix string, scope []string) error {
		err := filepath.Walk(filepath.Join(c.dir, "templates"), func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				if os.IsNotExist(err) && p == filepath.Join(c.dir, "templates") {
					return nil
				}
				return err
			}
			if fi.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(c.dir, p)
			if err != nil {
				return err
			}
			// Helm parses only the partials of a library chart.
			if c.isLibrary() && !strings.HasPrefix(fi.Name(), "_") {
				return nil
			}
			name := path.Join(prefix, filepath.ToSlash(rel))
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if _, err := r.root.New(name).Parse(string(data)); err != nil {
				return err
			}
			out = append(out, tmpl{name: name, chart: c, scope: scope})
			return nil
		})
		if err != nil {
			return err
		}
		for _, d := range c.deps {
			if err := walk(d, path.Join(prefix, "charts", d.name), append(append([]string{}, scope...), d.name)); err != nil {
				return err
			}
		}
		return nil
	}
	err := walk(top, top.name, nil)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return r, out, err
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
	top, err := loadChart(flag.Arg(0), 0)
	if err != nil {
		return err
	}
	if top.isLibrary() {
		return errors.New("a library chart is not installable: render a chart that depends on it")
	}
	values := map[string]interface{}{}
	for _, f := range files {
		extra, err := readYAMLMap(f)
		if err != nil {
			return err
		}
		mergeValues(values, extra)
	}
	// The chart's values.yaml under the -f files (a null there deletes the default).
	coalesceTables(values, top.values)
	if err := coalesceDeps(top, values); err != nil {
		return err
	}
	rel := map[string]interface{}{
		"Name": *release, "Namespace": *namespace, "Service": "Helm",
		"IsInstall": true, "IsUpgrade": false, "Revision": 1,
	}
	capabilities := map[string]interface{}{
		"KubeVersion": map[string]interface{}{"Version": "v1.29.0", "Major": "1", "Minor": "29"},
	}
	// topFor: the objects a template of chart c sees: its own .Values scope and .Chart.
	topFor := func(t tmpl) map[string]interface{} {
		v := values
		for _, k := range t.scope {
			v, _ = v[k].(map[string]interface{})
		}
		m := t.chart.meta
		return map[string]interface{}{
			"Values": v,
			"Files":  t.chart.files,
			"Chart": map[string]interface{}{
				"Name": t.chart.name, "Version": m.Version, "AppVersion": m.AppVersion,
				"Description": m.Description, "Type": m.Type, "APIVersion": m.APIVersion,
				"Keywords": m.Keywords,
			},
			"Release":      rel,
			"Capabilities": capabilities,
		}
	}

	r, tmpls, err := newRenderer(top)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	var all []map[string]interface{}
	for _, t := range tmpls {
		name := t.name
		base := path.Base(name)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != *notes || t.chart.isLibrary() {
			continue
		}
		// Helm shows the top chart's notes only.
		if isNotes && t.chart != top {
			continue
		}
		if !isNotes && !strings.HasSuffix(base, ".yaml") && !strings.HasSuffix(base, ".yml") {
			continue
		}
		text, err := r.render(name, topFor(t))
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
