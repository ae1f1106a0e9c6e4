package translate

import "time"

// Date is a Fitbit path date: a calendar day, or "today", which only the
// user's time zone can resolve (Fitbit days are the user's local days).
type Date struct {
	Today bool
	Day   time.Time // midnight UTC of the civil day; zero when Today
}

const dayLayout = "2006-01-02"

func parseDate(s string) (Date, bool) {
	if s == "today" {
		return Date{Today: true}, true
	}
	if len(s) != len(dayLayout) {
		return Date{}, false
	}
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		return Date{}, false
	}
	return Date{Day: t}, true
}

// Resolve returns the civil day, with today taken as the day it is now in loc.
func (d Date) Resolve(now time.Time, loc *time.Location) time.Time {
	if !d.Today {
		return d.Day
	}
	n := now.In(loc)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
}

func (d Date) String() string {
	if d.Today {
		return "today"
	}
	return d.Day.Format(dayLayout)
}

// Period is one of Fitbit's time-series periods (1d, 7d, 30d, 1w, 1m, 3m, 6m, 1y).
type Period string

var periods = map[Period]bool{"1d": true, "7d": true, "30d": true, "1w": true, "1m": true, "3m": true, "6m": true, "1y": true}

// Start is the first day of the period that ends on end, inclusive, as Fitbit
// counts it: days and weeks by days, months and years by the calendar.
func (p Period) Start(end time.Time) time.Time {
	switch p {
	case "1d":
		return end
	case "7d", "1w":
		return end.AddDate(0, 0, -6)
	case "30d":
		return end.AddDate(0, 0, -29)
	case "1m":
		return end.AddDate(0, -1, 1)
	case "3m":
		return end.AddDate(0, -3, 1)
	case "6m":
		return end.AddDate(0, -6, 1)
	case "1y":
		return end.AddDate(-1, 0, 1)
	}
	return end
}

// Clock is a time of day, HH:mm, as in Fitbit's /time/HH:mm/HH:mm.
type Clock struct{ Hour, Minute int }

func parseClock(s string) (Clock, bool) {
	if len(s) != 5 || s[2] != ':' {
		return Clock{}, false
	}
	t, err := time.Parse("15:04", s)
	if err != nil {
		return Clock{}, false
	}
	return Clock{t.Hour(), t.Minute()}, true
}

func (c Clock) minutes() int { return c.Hour*60 + c.Minute }
