package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caddy-fitbit/caddy-fitbit/internal/simkit"
)

// chromium is Debian's Chromium, which CI installs (.ci/run).
const chromium = "/usr/bin/chromium"

var screenshots = flag.String("screenshots", "", "directory to write the browser test's screenshots to (the README's are in docs/screenshots)")

// TestBrowserConnectionsPage drives a real headless Chromium through what a
// person does on a gateway with Fitbit and Google Health: the connections
// page, connect Fitbit with a partial grant on the simulated consent page,
// connect Google Health, disconnect Fitbit by clicking, and a denial. The
// browser signs in to the gateway's basic_auth once, with the credentials
// in the first URL (it then answers the gateway's challenges itself, and
// never sends them to the simulated Fitbit, another origin).
func TestBrowserConnectionsPage(t *testing.T) {
	if _, err := exec.LookPath(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs %s (.ci/run installs Debian's chromium): %v", chromium, err)
		}
		t.Skipf("no %s: install Debian's chromium to run the browser test", chromium)
	}
	b := newBridge(t)
	e := b.env
	// A person answers the simulated consent pages.
	e.sim.SetConsent(simkit.AskPerson("CHR0ME"))
	b.google.SetConsent(simkit.AskPerson("111111111111111111111")) // Fitbit's ALICE1, to Google
	ctx := newBrowser(t)

	home := gateway + "/fitbit/"
	signIn := strings.Replace(home, "://", "://alice:"+passwords["alice"]+"@", 1)
	h1 := func(text string) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.Search(`//h1[normalize-space()="` + text + `"]`))
	}
	click := func(xpath string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.Search(xpath)) }
	button := func(text string) string { return `//button[normalize-space()="` + text + `"]` }
	var body string
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		err := chromedp.Do(ctx, actions...)
		if err == nil {
			body, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		}
		if err != nil {
			t.Fatalf("%s: %v (page before: %s)", name, err, body)
		}
	}

	step("the connections page", chromedp.Navigate(signIn), h1("Your connections"))
	if strings.Count(body, "Not connected.") != 2 || !strings.Contains(body, "Google Health") {
		t.Fatalf("connections page before connecting: %s", body)
	}

	// Connect, unticking heart rate on the consent page: a partial grant.
	step("connect", click(button("Connect Fitbit")),
		chromedp.WaitVisible(chromedp.Search(button("Allow"))),
		click(`//label[contains(., "heart rate")]/input`),
		click(button("Allow")),
		h1("Connected, with fewer permissions"))
	for _, want := range []string{"CHR0ME", "Not allowed", "heart rate", "sleep"} {
		if !strings.Contains(body, want) {
			t.Errorf("result page lacks %q: %s", want, body)
		}
	}
	shoot(t, ctx, "result")

	step("connect Google Health", click(`//a[normalize-space()="Go to your connections"]`),
		h1("Your connections"), click(button("Connect Google Health")),
		chromedp.WaitVisible(chromedp.Search(button("Allow"))), click(button("Allow")),
		h1("Connected"))
	if !strings.Contains(body, "111111111111111111111") || !strings.Contains(body, "device and unit settings") {
		t.Errorf("Google result page: %s", body)
	}

	step("back to the page", click(`//a[normalize-space()="Go to your connections"]`),
		h1("Your connections"), chromedp.WaitVisible(chromedp.Search(button("Disconnect Fitbit"))))
	for _, want := range []string{"Connected and working.", "CHR0ME", "activity and exercise", "Not allowed", "Reconnect Fitbit",
		"111111111111111111111", "Fitbit user id", "ALICE1", "Reconnect Google Health", "Disconnect Google Health"} {
		if !strings.Contains(body, want) {
			t.Errorf("connections page lacks %q: %s", want, body)
		}
	}
	shoot(t, ctx, "connections")

	step("disconnect", click(button("Disconnect Fitbit")), h1("Disconnected"))
	if !strings.Contains(body, "confirmed it revoked") || !strings.Contains(body, "CHR0ME") {
		t.Errorf("disconnect page: %s", body)
	}
	if st := e.status("alice"); st.Connected {
		t.Fatalf("still connected after clicking disconnect: %+v", st)
	}
	if _, st := b.get("alice", "/fitbit/status?provider=google_health"); st["connected"] != true {
		t.Fatalf("disconnecting Fitbit disconnected Google Health: %v", st)
	}

	// A denial: nothing is connected, and the page says what was asked.
	step("deny", chromedp.Navigate(home), h1("Your connections"),
		click(button("Connect Fitbit")),
		chromedp.WaitVisible(chromedp.Search(button("Deny"))),
		click(button("Deny")),
		h1("Not connected"))
	if !strings.Contains(body, "did not allow access to Fitbit") || !strings.Contains(body, "none connected") || !strings.Contains(body, "heart rate") {
		t.Errorf("denial page: %s", body)
	}
	if st := e.status("alice"); st.Connected {
		t.Fatalf("connected after a denial: %+v", st)
	}
}

// status is user's /fitbit/status.
func (e *env) status(user string) (st struct {
	Connected bool   `json:"connected"`
	UserID    string `json:"user_id"`
}) {
	e.t.Helper()
	_, b := e.do(e.browser(user), "GET", "/fitbit/status", nil, nil)
	if err := json.Unmarshal([]byte(b), &st); err != nil {
		e.t.Fatalf("status: %v %s", err, b)
	}
	return st
}

// newBrowser starts a headless Chromium with one tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // CI runs as root
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first Run starts the browser; its context must not time out.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	// A bound for a hung browser, not a timing: each step waits for what
	// it needs to see.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// shoot writes the page at desktop and phone width to -screenshots, if set.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if *screenshots == "" {
		return
	}
	for _, v := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}} {
		emulate := chromedp.EmulateViewport(v.w, v.h)
		if v.mobile {
			emulate = chromedp.EmulateViewport(v.w, v.h, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(ctx, emulate); err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(*screenshots, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.ResetViewport()); err != nil {
		t.Fatal(err)
	}
}
