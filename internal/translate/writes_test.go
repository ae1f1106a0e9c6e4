package translate

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

func serveWrite(t *testing.T, e *Engine, method, path string, q url.Values, u UnitSystem) (*Answer, error) {
	t.Helper()
	r, err := Parse(method, path, q)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return e.Serve(context.Background(), r, u)
}

// TestWeightAndFatLogsWrittenToGoogle: a weight posted in pounds is stored
// in grams and read back in the log of its day; deleting it by the log id
// removes it; the same for body fat; an unknown id is Fitbit's 404.
func TestWeightAndFatLogsWrittenToGoogle(t *testing.T) {
	e, _ := startEngine(t)
	a, err := serveWrite(t, e, http.MethodPost, "/1/user/-/body/log/weight.json",
		url.Values{"weight": {"160.5"}, "date": {"2026-11-18"}, "time": {"07:30:00"}}, US)
	if err != nil || a.Status != http.StatusCreated {
		t.Fatalf("create weight: %+v %v", a, err)
	}
	log := a.Body.(map[string]any)["weightLog"].(map[string]any)
	if log["weight"] != 160.5 || log["date"] != "2026-11-18" || log["time"] != "07:30:00" || log["source"] != "API" {
		t.Errorf("weightLog %v", log)
	}
	id := log["logId"].(int64)
	found := func(kind, path string, u UnitSystem) map[string]any {
		t.Helper()
		for _, l := range serve(t, e, path, u).Body.(map[string]any)[kind].([]map[string]any) {
			if l["logId"] == id {
				return l
			}
		}
		return nil
	}
	got := found("weight", "/1/user/-/body/log/weight/date/2026-11-18.json", US)
	if got == nil || got["weight"] != 160.5 || got["time"] != "07:30:00" {
		t.Fatalf("the posted weight read back as %v", got)
	}
	if kg := found("weight", "/1/user/-/body/log/weight/date/2026-11-18.json", Metric); kg == nil || kg["weight"] != 72.8 {
		t.Errorf("in kg: %v", kg)
	}
	a, err = serveWrite(t, e, http.MethodDelete, "/1/user/-/body/log/weight/"+strconv.FormatInt(id, 10)+".json", nil, US)
	if err != nil || a.Status != http.StatusNoContent || a.Body != nil {
		t.Fatalf("delete weight: %+v %v", a, err)
	}
	if got := found("weight", "/1/user/-/body/log/weight/date/2026-11-18.json", US); got != nil {
		t.Errorf("deleted weight still listed: %v", got)
	}
	_, err = serveWrite(t, e, http.MethodDelete, "/1/user/-/body/log/weight/"+strconv.FormatInt(id, 10)+".json", nil, US)
	var te *Error
	if !errors.As(err, &te) || te.Status != http.StatusNotFound {
		t.Errorf("deleting it again: %v", err)
	}

	a, err = serveWrite(t, e, http.MethodPost, "/1/user/-/body/log/fat.json", url.Values{"fat": {"18.2"}, "date": {"2026-11-18"}}, Metric)
	if err != nil || a.Status != http.StatusCreated {
		t.Fatalf("create fat: %+v %v", a, err)
	}
	id = a.Body.(map[string]any)["fatLog"].(map[string]any)["logId"].(int64)
	if got := found("fat", "/1/user/-/body/log/fat/date/2026-11-18.json", Metric); got == nil || got["fat"] != 18.2 {
		t.Fatalf("the posted fat read back as %v", got)
	}
	if a, err := serveWrite(t, e, http.MethodDelete, "/1/user/-/body/log/fat/"+strconv.FormatInt(id, 10)+".json", nil, Metric); err != nil || a.Status != http.StatusNoContent {
		t.Fatalf("delete fat: %+v %v", a, err)
	}
}
