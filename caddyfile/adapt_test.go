package caddyfile_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-fitbit/caddy-fitbit"
)

var update = flag.Bool("update", false, "rewrite the golden testdata/*.json files from the adapted Caddyfiles")

// adapt runs the Caddyfile adapter, as `caddy adapt` does, and returns the
// indented JSON and the adapter's warnings.
func adapt(t *testing.T, filename string, body []byte) ([]byte, []caddyconfig.Warning, error) {
	t.Helper()
	adapter := caddyconfig.GetAdapter("caddyfile")
	if adapter == nil {
		t.Fatal("the caddyfile config adapter is not registered")
	}
	out, warnings, err := adapter.Adapt(body, map[string]any{"filename": filename})
	if err != nil {
		return nil, warnings, err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, out, "", "\t"); err != nil {
		t.Fatalf("%s: adapted config is not JSON: %v", filename, err)
	}
	pretty.WriteByte('\n')
	return pretty.Bytes(), warnings, nil
}

func noWarnings(t *testing.T, filename string, warnings []caddyconfig.Warning) {
	t.Helper()
	for _, w := range warnings {
		t.Errorf("%s: adapter warning: %s", filename, w.String())
	}
}

// TestAdaptGolden adapts every testdata/*.caddyfile and compares the result
// with testdata/<name>.json. Run `go test ./caddyfile/ -run TestAdaptGolden
// -update` to rewrite the goldens after an intended change, then review the
// diff.
func TestAdaptGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(inputs) == 0 {
		t.Fatal("no testdata/*.caddyfile")
	}
	for _, input := range inputs {
		name := strings.TrimSuffix(filepath.Base(input), ".caddyfile")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(input)
			if err != nil {
				t.Fatal(err)
			}
			got, warnings, err := adapt(t, input, body)
			if err != nil {
				t.Fatalf("adapt %s: %v", input, err)
			}
			noWarnings(t, input, warnings)

			golden := strings.TrimSuffix(input, ".caddyfile") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("adapted %s differs from %s (run with -update to accept):\n%s", input, golden, lineDiff(string(want), string(got)))
			}
		})
	}
}

// TestAdaptGoldenSpecifics pins the properties the goldens exist for, so a
// careless -update cannot silently accept a regression.
func TestAdaptGoldenSpecifics(t *testing.T) {
	checks := []struct {
		file    string
		want    []string
		notWant []string
	}{
		{
			file: "proxy_http_api_base",
			want: []string{`"dial": "127.0.0.1:9999"`, `"protocol": "fitbit"`, `"{http.reverse_proxy.upstream.hostport}"`},
			// A plain-HTTP api_base must not turn TLS on.
			notWant: []string{`"tls"`, `api.fitbit.com`},
		},
		{
			file: "proxy_plain",
			want: []string{`"dial": "api.fitbit.com:443"`, `"tls": {}`, `"protocol": "fitbit"`, `"handler": "fitbit_auth"`, `"handler": "authentication"`},
		},
		{
			file:    "proxy_to",
			want:    []string{`"dial": "127.0.0.1:9999"`, `"identity": "{http.request.header.X-User}"`},
			notWant: []string{`"tls"`, `"dial": "api.fitbit.com:443"`},
		},
		{
			file: "proxy_subdirectives",
			want: []string{`"provider": "fitbit"`, `"identity": "{http.request.header.X-User}"`, `"max_replay_body": 2097152`,
				`"try_duration": 5000000000`, `"flush_interval": -1`, `"X-Powered-By"`, `"X-Gateway"`},
		},
		{
			file: "transport_fitbit",
			want: []string{`"max_replay_body": 524288`, `"dial_timeout": 3000000000`, `"response_header_timeout": 30000000000`, `"tls": {}`},
		},
		{
			file: "global_all_options",
			want: []string{`"encryption_keys": [`, `"{env.FITBIT_KEY_NEW}"`, `"{env.FITBIT_KEY_OLD}"`, `"{env.FITBIT_KEY_OLDEST}"`,
				`"module": "file_system"`, `"root": "/var/lib/caddy-fitbit"`, `"refresh_skew": 600000000000`, `"token_timeout": 20000000000`,
				`"cache_size": 5000`, `"storage_prefix": "fitbit/prod"`},
		},
	}
	for _, c := range checks {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("testdata", c.file+".caddyfile")
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := adapt(t, path, body)
			if err != nil {
				t.Fatalf("adapt: %v", err)
			}
			for _, s := range c.want {
				if !strings.Contains(string(got), s) {
					t.Errorf("adapted %s lacks %s", path, s)
				}
			}
			for _, s := range c.notWant {
				if strings.Contains(string(got), s) {
					t.Errorf("adapted %s has %s", path, s)
				}
			}
		})
	}
	// The key order is the rotation order: the first key encrypts.
	path := filepath.Join("testdata", "global_all_options.caddyfile")
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := adapt(t, path, body)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Apps struct {
			Fitbit struct {
				EncryptionKeys []string `json:"encryption_keys"`
				Scopes         []string `json:"scopes"`
			} `json:"fitbit"`
		} `json:"apps"`
	}
	if err := json.Unmarshal(got, &cfg); err != nil {
		t.Fatal(err)
	}
	if want := []string{"{env.FITBIT_KEY_NEW}", "{env.FITBIT_KEY_OLD}", "{env.FITBIT_KEY_OLDEST}"}; strings.Join(cfg.Apps.Fitbit.EncryptionKeys, " ") != strings.Join(want, " ") {
		t.Errorf("encryption_keys = %q, want %q", cfg.Apps.Fitbit.EncryptionKeys, want)
	}
	if want := "activity heartrate profile sleep"; strings.Join(cfg.Apps.Fitbit.Scopes, " ") != want {
		t.Errorf("scopes = %q, want %q", cfg.Apps.Fitbit.Scopes, want)
	}
}

// TestAdaptExamples checks that the annotated Caddyfile.example and every
// file in examples/caddyfiles/ adapt without error or warning (including
// the "not formatted" warning: keep them `caddy fmt`-clean).
func TestAdaptExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "caddyfiles", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no examples/caddyfiles/*")
	}
	files = append([]string{filepath.Join("..", "Caddyfile.example")}, files...)
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			body, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got, warnings, err := adapt(t, file, body)
			if err != nil {
				t.Fatalf("adapt %s: %v", file, err)
			}
			noWarnings(t, file, warnings)
			if !strings.Contains(string(got), `"fitbit"`) {
				t.Errorf("%s: adapted config has no fitbit app", file)
			}
		})
	}
}

// global is a minimal fitbit global option for the table tests.
const global = `{
	fitbit {
		client_id id
		client_secret secret
		redirect_uri http://localhost:8080/fitbit/callback
		encryption_key {env.FITBIT_ENCRYPTION_KEY}
	}
}
`

// TestAdaptErrors checks that bad Caddyfiles fail to adapt and say why.
func TestAdaptErrors(t *testing.T) {
	cases := []struct {
		name    string
		input   string
		wantErr string
	}{
		{
			name:    "unknown fitbit option",
			input:   "{\n\tfitbit {\n\t\tclient_idd abc\n\t}\n}\n",
			wantErr: `fitbit: unknown option "client_idd"`,
		},
		{
			name:    "fitbit option takes no argument",
			input:   "{\n\tfitbit fitbit {\n\t\tclient_id abc\n\t}\n}\n",
			wantErr: "wrong argument count",
		},
		{
			name:    "fitbit option missing value",
			input:   "{\n\tfitbit {\n\t\tclient_id\n\t}\n}\n",
			wantErr: "wrong argument count",
		},
		{
			name:    "fitbit option extra value",
			input:   "{\n\tfitbit {\n\t\tclient_id a b\n\t}\n}\n",
			wantErr: "wrong argument count",
		},
		{
			name:    "oauth1_consumer without secret",
			input:   "{\n\tfitbit {\n\t\toauth1_consumer key\n\t}\n}\n",
			wantErr: "oauth1_consumer takes <key> <secret> [<callback>]",
		},
		{
			name:    "fitbit_oauth1 unknown subdirective",
			input:   global + ":8080 {\n\tfitbit_oauth1 {\n\t\tconsumer x\n\t}\n}\n",
			wantErr: `fitbit_oauth1: unknown subdirective "consumer"`,
		},
		{
			name:    "fitbit_oauth1 two prefixes",
			input:   global + ":8080 {\n\tfitbit_oauth1 /a /b\n}\n",
			wantErr: "wrong argument count",
		},
		{
			name:    "fitbit_oauth1 bad timestamp_skew",
			input:   global + ":8080 {\n\tfitbit_oauth1 {\n\t\ttimestamp_skew later\n\t}\n}\n",
			wantErr: "timestamp_skew",
		},
		{
			name:    "bad cache_size",
			input:   "{\n\tfitbit {\n\t\tcache_size lots\n\t}\n}\n",
			wantErr: `cache_size "lots": want a whole number`,
		},
		{
			name:    "bad refresh_skew",
			input:   "{\n\tfitbit {\n\t\trefresh_skew soon\n\t}\n}\n",
			wantErr: `refresh_skew "soon"`,
		},
		{
			name:    "unknown storage module",
			input:   "{\n\tfitbit {\n\t\tstorage nosuchstorage\n\t}\n}\n",
			wantErr: "nosuchstorage",
		},
		{
			name:    "fitbit global option twice",
			input:   "{\n\tfitbit {\n\t\tclient_id a\n\t}\n\tfitbit {\n\t\tclient_id b\n\t}\n}\n",
			wantErr: "the global option may appear only once",
		},
		{
			name:    "unknown fitbit_auth subdirective",
			input:   global + "\n:8080 {\n\tfitbit_auth {\n\t\tprefixx /x\n\t}\n}\n",
			wantErr: `fitbit_auth: unknown subdirective "prefixx" (want prefix, provider or identity)`,
		},
		{
			// "*" is the match-all matcher; then one prefix too many.
			name:    "fitbit_auth two prefixes",
			input:   global + "\n:8080 {\n\tfitbit_auth * /a /b\n}\n",
			wantErr: "wrong argument count",
		},
		{
			name:    "fitbit_proxy with an upstream argument",
			input:   global + "\n:8080 {\n\tfitbit_proxy https://api.fitbit.com\n}\n",
			wantErr: "fitbit_proxy takes no upstream",
		},
		{
			name:    "fitbit_proxy with a matcher and an upstream argument",
			input:   global + "\n:8080 {\n\tfitbit_proxy /1/* localhost:9999\n}\n",
			wantErr: "fitbit_proxy takes no upstream",
		},
		{
			name:    "fitbit_proxy with transport",
			input:   global + "\n:8080 {\n\tfitbit_proxy {\n\t\ttransport http\n\t}\n}\n",
			wantErr: "fitbit_proxy sets its own transport",
		},
		{
			name:    "fitbit_proxy with bad max_replay_body",
			input:   global + "\n:8080 {\n\tfitbit_proxy {\n\t\tmax_replay_body lots\n\t}\n}\n",
			wantErr: `max_replay_body "lots": want a size such as 1MiB`,
		},
		{
			name:    "fitbit_proxy with max_replay_body missing",
			input:   global + "\n:8080 {\n\tfitbit_proxy {\n\t\tmax_replay_body\n\t}\n}\n",
			wantErr: "max_replay_body takes exactly one argument",
		},
		{
			name:    "fitbit_proxy with bad reverse_proxy subdirective",
			input:   global + "\n:8080 {\n\tfitbit_proxy {\n\t\tlb_try_duration forever\n\t}\n}\n",
			wantErr: "forever",
		},
		{
			name: "api_base with a path",
			input: "{\n\tfitbit {\n\t\tapi_base https://api.fitbit.com/1/user\n\t}\n}\n" +
				"\n:8080 {\n\tfitbit_proxy\n}\n",
			wantErr: "has a path",
		},
		{
			name: "api_base with a placeholder and no to",
			input: "{\n\tfitbit {\n\t\tapi_base {env.FITBIT_API_BASE}\n\t}\n}\n" +
				"\n:8080 {\n\tfitbit_proxy\n}\n",
			wantErr: "set 'to <upstream>' in fitbit_proxy",
		},
		{
			name:    "transport fitbit with bad max_replay_body",
			input:   global + "\n:8080 {\n\treverse_proxy https://api.fitbit.com {\n\t\ttransport fitbit {\n\t\t\tmax_replay_body -1\n\t\t}\n\t}\n}\n",
			wantErr: `max_replay_body "-1"`,
		},
		{
			name:    "transport fitbit unknown subdirective",
			input:   global + "\n:8080 {\n\treverse_proxy https://api.fitbit.com {\n\t\ttransport fitbit {\n\t\t\tidentiy {http.auth.user.id}\n\t\t}\n\t}\n}\n",
			wantErr: `unknown subdirective "identiy"`,
		},
		{
			name:    "transport fitbit with an argument",
			input:   global + "\n:8080 {\n\treverse_proxy https://api.fitbit.com {\n\t\ttransport fitbit extra\n\t}\n}\n",
			wantErr: "wrong argument count",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _, err := adapt(t, "Caddyfile", []byte(c.input))
			if err == nil {
				t.Fatalf("adapt succeeded, want an error containing %q; got:\n%s", c.wantErr, got)
			}
			if !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("adapt error = %q, want it to contain %q", err, c.wantErr)
			}
		})
	}
}

// TestAdaptRegressions pins inputs that once adapted wrongly; bug says how.
func TestAdaptRegressions(t *testing.T) {
	cases := []struct {
		name    string
		site    string
		want    []string
		notWant []string
		bug     string
	}{
		{
			name:    "fitbit_auth positional prefix",
			site:    "\tfitbit_auth /connect/fitbit\n",
			want:    []string{`"prefix": "/connect/fitbit"`},
			notWant: []string{`"match"`},
			bug: "fitbit_auth is a RegisterHandlerDirective, so its documented [<prefix>] argument " +
				"(a path, starting with /) is taken as a path matcher: the route matches only the exact " +
				"path /connect/fitbit and the handler keeps the default prefix /fitbit",
		},
		{
			name: "fitbit_proxy reverse_proxy subdirective whose argument is identity",
			site: "\tfitbit_proxy {\n\t\theader_up Accept-Encoding identity\n\t}\n",
			want: []string{`"Accept-Encoding"`},
			bug: "parseProxy matches provider/identity/max_replay_body/transport on every token at " +
				"nesting 1, not only on the first token of a line",
		},
		{
			name: "fitbit_proxy handle_response",
			site: "\tfitbit_proxy {\n\t\t@err status 5xx\n\t\thandle_response @err {\n\t\t\trespond \"upstream error\" 502\n\t\t}\n\t}\n",
			want: []string{`"handle_response"`},
			bug:  "parseProxy never calls rp.FinalizeUnmarshalCaddyfile(h), so handle_response blocks are silently dropped",
		},
		{
			name: "fitbit_proxy to an https upstream",
			site: "\tfitbit_proxy {\n\t\tto https://api.fitbit.com\n\t}\n",
			want: []string{`"tls": {}`},
			bug: "reverse_proxy's parser puts TLS for an https 'to' on its default http transport, " +
				"which parseProxy then replaces with a fitbit transport without TLS: plain HTTP to port 443",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			input := global + "\n:8080 {\n" + c.site + "}\n"
			got, _, err := adapt(t, "Caddyfile", []byte(input))
			var problems []string
			if err != nil {
				problems = append(problems, "adapt failed: "+err.Error())
			}
			for _, s := range c.want {
				if err == nil && !strings.Contains(string(got), s) {
					problems = append(problems, "lacks "+s)
				}
			}
			for _, s := range c.notWant {
				if err == nil && strings.Contains(string(got), s) {
					problems = append(problems, "has "+s)
				}
			}
			if len(problems) > 0 {
				t.Fatalf("regression (%s): %s", c.bug, strings.Join(problems, "; "))
			}
		})
	}
}

// lineDiff is a minimal line diff for golden mismatches: the first differing
// lines with a little context.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	start := max(0, i-3)
	var b strings.Builder
	b.WriteString("first difference at line " + strconv.Itoa(i+1) + ":\n")
	for j := start; j < i; j++ {
		b.WriteString("  " + w[j] + "\n")
	}
	for j := i; j < min(len(w), i+5); j++ {
		b.WriteString("- " + w[j] + "\n")
	}
	for j := i; j < min(len(g), i+5); j++ {
		b.WriteString("+ " + g[j] + "\n")
	}
	return b.String()
}
