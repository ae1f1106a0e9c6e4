package chaos

// Two real Caddy processes over one store: a disconnect or a reconnect on
// one is seen by the other's cache (the store's change feed), with the file
// system and with Redis:
//
//	go test -v -run Peers ./chaos

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-fitbit/caddy-fitbit/internal/apierror"
	"github.com/caddy-fitbit/caddy-fitbit/internal/fitbitsim"
	"github.com/caddy-fitbit/caddy-fitbit/internal/redistest"
)

// peerSync is the instances' cache_sync_interval.
const peerSync = 500 * time.Millisecond

// instanceOptions are the global options every instance of startInstances
// has besides admin: Caddy's own storage apart, its log in a file at
// {{.Level}}.
const instanceOptions = `
	persist_config off
	auto_https off
	grace_period 1s
	storage file_system {{.Dir}}/caddy-data-{{.N}}
	log {
		output file {{.Log}}
		format json
		level {{.Level}}
	}`

const peerTmpl = `{
	admin off` + instanceOptions + `
	fitbit {
		client_id {{.ClientID}}
		client_secret {{.ClientSecret}}
		redirect_uri {{.Self}}/fitbit/callback
		authorize_url {{.Sim}}/oauth2/authorize
		token_url {{.Sim}}/oauth2/token
		revoke_url {{.Revoke}}
		api_base {{.Sim}}
		encryption_key {{.Key}}
		cache_sync_interval {{.Sync}}
		{{.Store}}
	}
}

http://:{{.Port}} {
	basic_auth {
		alice {{.Hash}}
	}
	fitbit_auth
	fitbit_proxy
}
`

func TestPeersFileSystem(t *testing.T) {
	bin := caddyBinary(t)
	runPeers(t, bin, "storage file_system {\n\t\t\troot "+t.TempDir()+"\n\t\t}")
}

func TestPeersRedis(t *testing.T) {
	bin := caddyBinary(t)
	if !hasModule("fitbit.stores.redis") {
		t.Skip("this Caddy build has no fitbit.stores.redis module")
	}
	runPeers(t, bin, "store redis {\n\t\t\taddress "+redistest.Start(t)+"\n\t\t\tkey_prefix peers\n\t\t}")
}

// runPeers: connect alice on A, use her connection on B (B caches it);
// disconnect on A: B answers not_connected; reconnect on A with another
// Fitbit account: B injects the new token.
//
// The provider's revoke endpoint here acknowledges and revokes nothing, as
// when access tokens outlive a revocation (self-contained JWTs) or revoke
// fails after the local deletion: the old access token still works at the
// API, so only the gateway's own bookkeeping can stop B from using it.
func runPeers(t *testing.T, bin, store string) {
	dir := t.TempDir()
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	urls := []string{"http://127.0.0.1:" + strconv.Itoa(ports[0]), "http://127.0.0.1:" + strconv.Itoa(ports[1])}
	sim, err := fitbitsim.Start(fitbitsim.Config{
		RedirectURIs:     []string{urls[0] + "/fitbit/callback", urls[1] + "/fitbit/callback"},
		RateLimitPerHour: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	var revokes atomic.Int64
	revoke := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		revokes.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(revoke.Close)

	hash, err := bcrypt.GenerateFromPassword([]byte(identityPasswd), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	startInstances(t, bin, dir, ports, peerTmpl, func(i int, logPath string) map[string]any {
		return map[string]any{
			"Dir": dir, "N": i + 1, "Log": logPath, "Level": "INFO", "ClientID": sim.ClientID(), "ClientSecret": sim.ClientSecret(),
			"Self": urls[i], "Sim": sim.URL(), "Revoke": revoke.URL, "Key": base64.StdEncoding.EncodeToString(key),
			"Sync": peerSync.String(), "Store": store, "Port": ports[i], "Hash": base64.StdEncoding.EncodeToString(hash),
		}
	})
	a, b := urls[0], urls[1]

	connectAt(t, sim, a, "ALICE1")
	if code, user, _ := profileAt(t, b); code != http.StatusOK || user != "ALICE1" {
		t.Fatalf("B before the disconnect: %d %s", code, user)
	}

	req, _ := http.NewRequest(http.MethodPost, a+"/fitbit/disconnect", nil)
	req.SetBasicAuth("alice", identityPasswd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || revokes.Load() == 0 {
		t.Fatalf("disconnect on A: %d %s (revoke called %d times)", resp.StatusCode, body, revokes.Load())
	}
	// The old access token still works at the API: B must stop on its own.
	waitFor(t, "B answers not_connected after the disconnect on A", func() (bool, string) {
		code, user, errType := profileAt(t, b)
		return code == http.StatusUnauthorized && errType == apierror.NotConnected, fmt.Sprintf("%d %s %s", code, user, errType)
	})

	// Reconnect on A with another account; B had cached nothing since, so
	// make it cache the new connection, then replace it once more.
	connectAt(t, sim, a, "BOB222")
	waitFor(t, "B injects the reconnected account's token", func() (bool, string) {
		code, user, errType := profileAt(t, b)
		return code == http.StatusOK && user == "BOB222", fmt.Sprintf("%d %s %s", code, user, errType)
	})
	connectAt(t, sim, a, "CAROL3")
	waitFor(t, "B injects the token of the account connected on A", func() (bool, string) {
		code, user, errType := profileAt(t, b)
		return code == http.StatusOK && user == "CAROL3", fmt.Sprintf("%d %s %s", code, user, errType)
	})
}

// connectAt connects alice through the browser flow at the instance base,
// consenting as the Fitbit user.
func connectAt(t *testing.T, sim *fitbitsim.Server, base, user string) {
	t.Helper()
	sim.SetConsent(func(*http.Request, []string) fitbitsim.Consent { return fitbitsim.Consent{UserID: user} })
	defer sim.SetConsent(nil)
	browserConnect(t, base, "alice")
}

// profileAt fetches alice's profile through the instance base: the status,
// the Fitbit user whose data came back, or the gateway's errorType.
func profileAt(t *testing.T, base string) (code int, user, errType string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/1/user/-/profile.json", nil)
	req.SetBasicAuth("alice", identityPasswd)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var prof struct {
		User struct {
			EncodedID string `json:"encodedId"`
		} `json:"user"`
	}
	if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &prof) == nil {
		return resp.StatusCode, prof.User.EncodedID, ""
	}
	it, _ := apierror.Parse(body)
	return resp.StatusCode, "", it.ErrorType
}

// waitFor polls cond until it holds. The bound is generous (about 40 times
// cache_sync_interval): it keeps a broken build from hanging, it does not
// measure anything.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(40 * peerSync)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last answer: %s)", what, 40*peerSync, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startInstances starts one Caddy process per port, each from tmpl filled
// with data(i, its log file), all in dir and killed when t ends (their
// logs printed if t failed), and returns their log files.
func startInstances(t *testing.T, bin, dir string, ports []int, tmpl string, data func(i int, logPath string) map[string]any) []string {
	t.Helper()
	w := &run{t: t}
	var insts []*proc
	var logs []string
	for i, port := range ports {
		n := i + 1
		p := &proc{
			name: fmt.Sprintf("instance %d", n), bin: bin, port: port,
			env:     append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "xdg-data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "xdg-config")),
			config:  filepath.Join(dir, fmt.Sprintf("instance%d.caddyfile", n)),
			logPath: filepath.Join(dir, fmt.Sprintf("instance%d.log", n)),
			outPath: filepath.Join(dir, fmt.Sprintf("instance%d.out", n)),
		}
		w.writeConfig(p.config, tmpl, data(i, p.logPath))
		insts = append(insts, p)
		logs = append(logs, p.logPath)
	}
	t.Cleanup(func() {
		for _, p := range insts {
			p.kill()
		}
		if t.Failed() {
			w.insts = insts
			w.dumpLogs()
		}
	})
	for _, p := range insts {
		if _, err := p.start(); err != nil {
			t.Fatal(err)
		}
	}
	return logs
}
