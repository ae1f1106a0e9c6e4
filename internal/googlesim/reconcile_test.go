package googlesim

import (
	"encoding/json"
	"net/http"
	"testing"

	health "google.golang.org/api/health/v4"
)

func TestReconcileSleep(t *testing.T) {
	d, s, svc, c := startWithClient(t, AreaSleep+".readonly", AreaActivity+".readonly")
	dps := svc.Users.DataTypes.DataPoints
	const filter = `sleep.interval.end_time >= "2026-10-20" AND sleep.interval.end_time < "2026-11-20"`

	// Thirty-one nights in pages of at most 25 (more is coerced to 25),
	// the same sessions as the list, named by dataPointName.
	var nights []*health.ReconciledDataPoint
	call := dps.Reconcile("users/me/dataTypes/sleep").Filter(filter).PageSize(100)
	pages := 0
	for {
		resp, err := call.Do()
		if err != nil {
			t.Fatal(err)
		}
		strict(t, d, "reconcile sleep", c.last(), &health.ReconcileDataPointsResponse{})
		pages++
		if len(resp.DataPoints) > 25 {
			t.Fatalf("page of %d", len(resp.DataPoints))
		}
		nights = append(nights, resp.DataPoints...)
		if resp.NextPageToken == "" {
			break
		}
		call.PageToken(resp.NextPageToken)
	}
	if len(nights) != 31 || pages != 2 {
		t.Fatalf("%d nights in %d pages", len(nights), pages)
	}
	list, err := dps.List("users/me/dataTypes/sleep").Filter(filter).PageSize(25).Do()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range list.DataPoints {
		rb, _ := json.Marshal(nights[i].Sleep)
		lb, _ := json.Marshal(p.Sleep)
		if nights[i].DataPointName != p.Name || string(rb) != string(lb) || nights[i].Sleep.Type != "STAGES" {
			t.Fatalf("night %d: reconcile %s %s, list %s %s", i, nights[i].DataPointName, rb, p.Name, lb)
		}
	}

	// A list's page token is not reconcile's; bad filters and missing
	// scopes are Google's errors.
	_, err = dps.Reconcile("users/me/dataTypes/sleep").Filter(filter).PageToken(list.NextPageToken).Do()
	wantGoogleError(t, err, c, http.StatusBadRequest, "INVALID_ARGUMENT")
	_, err = dps.Reconcile("users/me/dataTypes/sleep").Filter("sleep.interval.end_time > yesterday").Do()
	wantGoogleError(t, err, c, http.StatusBadRequest, "INVALID_ARGUMENT")
	_, err = dps.Reconcile("users/me/dataTypes/total-calories").Do()
	wantGoogleError(t, err, c, http.StatusBadRequest, "INVALID_ARGUMENT")
	ro, rc := healthClient(t, s, s.MintTokens("u1", AreaActivity+".readonly").AccessToken)
	_, err = ro.Users.DataTypes.DataPoints.Reconcile("users/me/dataTypes/sleep").Do()
	if det := wantGoogleError(t, err, rc, http.StatusForbidden, "PERMISSION_DENIED"); len(det) != 1 ||
		det[0].Metadata["method"] != rpcPrefix+"DataPointsService.ReconcileDataPoints" {
		t.Fatalf("details %+v", det)
	}

	// Types whose points are not identifiable have no dataPointName; the
	// default page is 1440.
	steps, err := dps.Reconcile("users/me/dataTypes/steps").Do()
	if err != nil {
		t.Fatal(err)
	}
	strict(t, d, "reconcile steps", c.last(), &health.ReconcileDataPointsResponse{})
	if len(steps.DataPoints) != defaultReconcilePageSize || steps.NextPageToken == "" || steps.DataPoints[0].DataPointName != "" ||
		steps.DataPoints[0].Steps == nil {
		t.Fatalf("steps: %d points, first %+v", len(steps.DataPoints), steps.DataPoints[0])
	}
}
