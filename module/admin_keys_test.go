package module

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/caddy-fitbit/caddy-fitbit/internal/rekey"
	"github.com/caddy-fitbit/caddy-fitbit/internal/storagestore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore"
	"github.com/caddy-fitbit/caddy-fitbit/internal/tokenstore/storetest"
)

// keyOf is the base64 encryption key of seed, and its keyring.
func keyOf(t *testing.T, seed byte) (string, *tokenstore.Keyring) {
	t.Helper()
	raw := bytes.Repeat([]byte{seed}, tokenstore.KeySize)
	kr, err := tokenstore.NewKeyring([][]byte{raw})
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw), kr
}

// gauge is the value of caddy_fitbit_sealed_records{key_id, kind}.
func gauge(t *testing.T, keyID, kind string) float64 {
	t.Helper()
	var m dto.Metric
	if err := keyMetrics.sealed.WithLabelValues(keyID, kind).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// walkLines posts a check or rekey and returns its progress lines and
// summary line.
func walkLines(t *testing.T, url string) ([]rekey.Progress, walkSummary) {
	t.Helper()
	resp, err := http.Post(url, "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, raw)
	}
	var progress []rekey.Progress
	var sum walkSummary
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"summary":true`) {
			if err := json.Unmarshal(sc.Bytes(), &sum); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var p rekey.Progress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("progress line %q: %v", sc.Text(), err)
		}
		progress = append(progress, p)
	}
	if !sum.Last || sum.Summary == nil {
		t.Fatalf("%s: no summary line in %s", url, raw)
	}
	return progress, sum
}

// A rotation through the admin API: the keys' counts, check, rekey, the
// gauge, and an unreadable record listed and deleted.
func TestAdminKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey, oldKR := keyOf(t, 1)
	newKey, newKR := keyOf(t, 2)
	_, foreignKR := keyOf(t, 9)
	ctx := context.Background()
	old := storagestore.New(&certmagic.FileStorage{Path: dir}, oldKR, "")
	var recs []*tokenstore.Record
	for i := range 3 {
		rec := storetest.NewRecord("fitbit", fmt.Sprintf("user-%d", i))
		if err := old.SaveConnection(ctx, rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	if err := old.PutPending(ctx, storetest.NewPending("fitbit", time.Now().Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	lost := storetest.NewRecord("fitbit", "lost")
	if err := storagestore.New(&certmagic.FileStorage{Path: dir}, foreignKR, "").SaveConnection(ctx, lost); err != nil {
		t.Fatal(err)
	}

	base := adminCaddy(t, map[string]any{"fitbit": map[string]any{
		"client_id": "23ABCD", "client_secret": "s", "redirect_uri": "https://gw.example/fitbit/callback",
		"encryption_keys": []string{newKey, oldKey},
		"storage":         map[string]any{"module": "file_system", "root": dir},
	}})
	k1, k2 := oldKR.PrimaryKeyID(), newKR.PrimaryKeyID()

	var keys keysView
	if code := adminCall(t, "GET", base+"/fitbit/keys", "", &keys); code != http.StatusOK {
		t.Fatalf("keys: %d", code)
	}
	if len(keys.Keys) != 2 || keys.Keys[0].KeyID != k2 || !keys.Keys[0].Primary || keys.Keys[0].Total() != 0 ||
		keys.Keys[1].KeyID != k1 || keys.Keys[1].Connections != 3 || keys.Keys[1].Pending != 1 || keys.Unreadable != 1 || keys.Done {
		t.Fatalf("keys before: %+v", keys)
	}
	if got := gauge(t, k1, "connection"); got != 3 {
		t.Fatalf("gauge of %s's connections = %v, want 3", k1, got)
	}
	// The same count sets the gauge of connections by provider and health.
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.lifecycle.connections)
	families, err := reg.Gather()
	if err != nil || len(families) != 1 {
		t.Fatalf("caddy_fitbit_connections: %d families, %v", len(families), err)
	}
	byHealth := map[string]float64{}
	for _, m := range families[0].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["provider"] == "fitbit" {
			byHealth[labels["health"]] = m.GetGauge().GetValue()
		}
	}
	if byHealth["ok"] != 3 || byHealth["record_unreadable"] != 1 || byHealth["needs_reauth"] != 0 || len(byHealth) != 3 {
		t.Fatalf("connections by health: %v", byHealth)
	}

	_, sum := walkLines(t, base+"/fitbit/check")
	if sum.Keys[k1].Connections != 3 || sum.UnreadableCount != 1 || sum.Resealed != 0 {
		t.Fatalf("check: %+v", sum.Summary)
	}
	progress, sum := walkLines(t, base+"/fitbit/rekey")
	if sum.Resealed != 4 || sum.Keys[k2].Connections != 3 || sum.Keys[k1].Total() != 0 || sum.Done || len(progress) == 0 {
		t.Fatalf("rekey: %+v (%d progress lines)", sum.Summary, len(progress))
	}
	if got := gauge(t, k2, "connection"); got != 3 {
		t.Fatalf("gauge of %s's connections after rekey = %v, want 3", k2, got)
	}
	// Resumed from the last cursor of the connections: nothing left there.
	if _, sum := walkLines(t, base+"/fitbit/rekey?after=pending:"); sum.Resealed != 0 {
		t.Fatalf("resumed rekey: %+v", sum.Summary)
	}
	var apiErr struct{ Error string }
	if code := adminCall(t, "POST", base+"/fitbit/rekey?after=bogus", "", &apiErr); code != http.StatusBadRequest {
		t.Fatalf("rekey with a bad cursor: %d", code)
	}

	var unreadable struct {
		Unreadable []rekey.Unreadable
		Count      int
	}
	if code := adminCall(t, "GET", base+"/fitbit/unreadable", "", &unreadable); code != http.StatusOK ||
		unreadable.Count != 1 || unreadable.Unreadable[0].ID != tokenstore.KeyOfRecord(lost).String() {
		t.Fatalf("unreadable: %d %+v", code, unreadable)
	}
	readable := tokenstore.KeyOfRecord(recs[0]).String()
	if code := adminCall(t, "DELETE", base+"/fitbit/unreadable/connection/"+readable, "", &apiErr); code != http.StatusConflict {
		t.Fatalf("deleting a readable connection: %d %q", code, apiErr.Error)
	}
	if code := adminCall(t, "DELETE", base+"/fitbit/unreadable/connection/"+unreadable.Unreadable[0].ID, "", nil); code != http.StatusOK {
		t.Fatalf("deleting the unreadable connection: %d", code)
	}
	if code := adminCall(t, "DELETE", base+"/fitbit/unreadable/connection/"+unreadable.Unreadable[0].ID, "", &apiErr); code != http.StatusNotFound {
		t.Fatalf("deleting it again: %d", code)
	}
	if code := adminCall(t, "DELETE", base+"/fitbit/unreadable/connection/fitbit/not-a-hash", "", &apiErr); code != http.StatusBadRequest {
		t.Fatalf("deleting a bad name: %d", code)
	}
	if code := adminCall(t, "DELETE", base+"/fitbit/unreadable/pending/"+strings.Repeat("a", 64), "", &apiErr); code != http.StatusNotFound {
		t.Fatalf("deleting a missing pending: %d", code)
	}
	if code := adminCall(t, "GET", base+"/fitbit/keys", "", &keys); code != http.StatusOK || !keys.Done || keys.Keys[1].Total() != 0 {
		t.Fatalf("keys after: %d %+v", code, keys)
	}
	for _, rec := range recs {
		if strings.Contains(fmt.Sprint(keys), rec.RefreshToken) {
			t.Fatal("a token in the answer")
		}
	}
}
