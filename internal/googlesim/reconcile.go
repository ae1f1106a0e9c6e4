package googlesim

import "net/http"

// defaultReconcilePageSize is reconcile's page size when none is asked
// for, per health-api.json ("If unspecified, at most 1440 data points
// will be returned"; 25 for exercise and sleep, their maximum).
const defaultReconcilePageSize = 1440

// identifiable are the data types whose points have names, which a
// ReconciledDataPoint carries as dataPointName. health-api.json names
// sleep; the others are the types with get, create and batchDelete.
var identifiable = map[string]bool{"sleep": true, "exercise": true, "weight": true, "body-fat": true}

// reconcileDataPoints is GET
// /v4/users/me/dataTypes/{type}/dataPoints:reconcile: "Reconcile data
// points from multiple data sources into a single data stream". The
// simulator has one source per type (and the user's writes), so the
// stream is the list's points as ReconciledDataPoints.
func (s *Server) reconcileDataPoints(w http.ResponseWriter, r *apiRequest, m []string) {
	s.queryDataPoints(w, r, m, true)
}

// reconciled turns a DataPoint into a ReconciledDataPoint: no dataSource,
// and the name, for identifiable types only, as dataPointName.
func reconciled(typ string, dp map[string]any) map[string]any {
	out := map[string]any{dataTypes[typ].field: dp[dataTypes[typ].field]}
	if identifiable[typ] {
		out["dataPointName"] = dp["name"]
	}
	return out
}
