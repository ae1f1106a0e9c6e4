package person

import "time"

// Level is an activity level, as Fitbit's intraday calories label minutes.
type Level uint8

const (
	Sedentary Level = iota
	LightlyActive
	FairlyActive
	VeryActive
)

// MinutesPerDay is the length of a day in wall-clock minutes.
const MinutesPerDay = 1440

// FloorMM is the climb of one floor (Fitbit counts a floor per 10 feet).
const FloorMM = 3048

// Minute is what the tracker counted in one minute.
type Minute struct {
	Steps       int
	DistanceMM  int
	Floors      int
	ElevationMM int
	BMRMilliCal int // basal calories, in 1/1000 kcal
	ActMilliCal int // calories above basal, in 1/1000 kcal
	Level       Level
	InBed       bool // inside a sleep session
	OffWrist    bool
	// Skipped is a wall-clock minute that does not exist on the day (the
	// hour skipped when daylight saving time starts): no time passes in it,
	// so it carries nothing, not even basal calories, and has no level.
	Skipped bool
}

// MilliCal is the minute's calories, basal and active.
func (m Minute) MilliCal() int { return m.BMRMilliCal + m.ActMilliCal }

// Exercise is a walk or a run, in Fitbit's activity types.
type Exercise struct {
	Name           string // "Walk" or "Run"
	ActivityTypeID int    // 90013 walk, 90009 run
	Start          time.Time
	StartMinute    int // minute of the day
	Minutes        int
	Steps          int
	DistanceMM     int
	MilliCal       int
}

// Activity is one local day of activity.
type Activity struct {
	Day       time.Time // local midnight
	Minutes   [MinutesPerDay]Minute
	Exercises []Exercise
	// OffWrist is the off-wrist window [From, To) in minutes of the day, or
	// zero when the tracker was worn all day.
	OffWrist struct{ From, To int }
}

// Totals are a day's sums, all derived from the minutes.
type Totals struct {
	Steps, DistanceMM, Floors, ElevationMM int
	// Calories in 1/1000 kcal: basal, active and both.
	BMRMilliCal, ActMilliCal, MilliCal int
	// Minutes per level; in-bed minutes are not sedentary minutes.
	Sedentary, Lightly, Fairly, Very int
}

// Sum adds the minutes [from, to) of the day.
func (a *Activity) Sum(from, to int) Totals {
	var t Totals
	for _, m := range a.Minutes[max(0, from):min(MinutesPerDay, to)] {
		t.Steps += m.Steps
		t.DistanceMM += m.DistanceMM
		t.Floors += m.Floors
		t.ElevationMM += m.ElevationMM
		t.BMRMilliCal += m.BMRMilliCal
		t.ActMilliCal += m.ActMilliCal
		switch {
		case m.Skipped:
		case m.Level == VeryActive:
			t.Very++
		case m.Level == FairlyActive:
			t.Fairly++
		case m.Level == LightlyActive:
			t.Lightly++
		case !m.InBed:
			t.Sedentary++
		}
	}
	t.MilliCal = t.BMRMilliCal + t.ActMilliCal
	return t
}

// Totals sums the whole day.
func (a *Activity) Totals() Totals { return a.Sum(0, MinutesPerDay) }

// BMRMilliCalPerDay is the basal metabolic rate (Mifflin-St Jeor) on day,
// in 1/1000 kcal.
func (p *Person) BMRMilliCalPerDay(day time.Time) int {
	kg := p.WeightKG(day)
	cm := float64(p.Profile.HeightMM) / 10
	bmr := 10*kg + 6.25*cm - 5*float64(p.Age(day)) + 5
	if p.Profile.Gender == Female {
		bmr -= 166
	}
	return int(bmr * 1000)
}

// bout is planned exercise.
type bout struct {
	start, minutes int
	run            bool
}

// Activity returns the person's activity on the local day holding day.
func (p *Person) Activity(day time.Time) *Activity {
	day = p.DayOf(day)
	a := &Activity{Day: day}
	r := p.rng(day, "activity")

	// In bed: the end of this day's sleep, the start of the next.
	next := day.AddDate(0, 0, 1)
	for _, s := range append(p.Sleeps(day), p.Sleeps(next)...) {
		for t := s.Start; t.Before(s.End()); t = t.Add(time.Minute) {
			if p.DayOf(t).Equal(day) {
				a.Minutes[minuteOf(day, t)].InBed = true
			}
		}
	}

	bouts := []bout{{between(r, 8*60+15, 9*60), between(r, 10, 25), false}}
	if r.IntN(10) < 6 {
		bouts = append(bouts, bout{between(r, 12*60, 13*60), between(r, 10, 30), false})
	}
	switch n := r.IntN(20); {
	case n < 7:
		bouts = append(bouts, bout{between(r, 17*60+30, 19*60+30), between(r, 25, 50), true})
	case n < 17:
		bouts = append(bouts, bout{between(r, 17*60+30, 20*60), between(r, 15, 40), false})
	}
	if r.IntN(4) == 0 {
		a.OffWrist.From = between(r, 14*60, 16*60)
		a.OffWrist.To = a.OffWrist.From + between(r, 20, 80)
	}

	scale := p.WeightKG(day) / 70 // active calories grow with the weight moved
	bmr := p.BMRMilliCalPerDay(day)
	inBout := make([]int, MinutesPerDay) // 1 walk, 2 run
	for _, b := range bouts {
		for i := b.start; i < b.start+b.minutes; i++ {
			inBout[i] = 1
			if b.run {
				inBout[i] = 2
			}
		}
	}
	for i := range a.Minutes {
		m := &a.Minutes[i]
		if minuteOf(day, p.At(day, i)) != i {
			m.Skipped = true
			continue
		}
		// Spread the basal rate so a day of 1440 minutes adds up to it
		// exactly; a day without its skipped hour burns 23/24 of it.
		m.BMRMilliCal = bmr*(i+1)/MinutesPerDay - bmr*i/MinutesPerDay
		m.OffWrist = i >= a.OffWrist.From && i < a.OffWrist.To
		if m.InBed || m.OffWrist {
			continue
		}
		stride := p.Profile.StrideWalkingMM
		switch inBout[i] {
		case 2:
			m.Level, m.Steps, stride = VeryActive, between(r, 150, 175), p.Profile.StrideRunningMM
			m.ActMilliCal = int(float64(between(r, 9000, 12000)) * scale)
		case 1:
			m.Level, m.Steps = FairlyActive, between(r, 95, 125)
			m.ActMilliCal = int(float64(between(r, 3500, 5000)) * scale)
			if r.IntN(20) == 0 {
				m.Floors = 1
			}
		default:
			switch x := r.IntN(100); {
			case x < 22:
				m.Level, m.Steps = LightlyActive, between(r, 15, 60)
				m.ActMilliCal = int(float64(between(r, 1200, 2000)) * scale)
				if r.IntN(60) == 0 {
					m.Floors = 1
				}
			case x < 32:
				m.Steps = between(r, 1, 9)
				m.ActMilliCal = between(r, 50, 300)
			}
		}
		m.DistanceMM = m.Steps * stride
		m.ElevationMM = m.Floors * FloorMM
	}
	// Exercises are the bouts as they were counted (an off-wrist window may
	// have cut into them).
	for _, b := range bouts {
		t := a.Sum(b.start, b.start+b.minutes)
		e := Exercise{Name: "Walk", ActivityTypeID: 90013, Start: p.At(day, b.start), StartMinute: b.start,
			Minutes: b.minutes, Steps: t.Steps, DistanceMM: t.DistanceMM, MilliCal: t.MilliCal}
		if b.run {
			e.Name, e.ActivityTypeID = "Run", 90009
		}
		a.Exercises = append(a.Exercises, e)
	}
	return a
}

// minuteOf is the wall-clock minute of day that t falls in.
func minuteOf(day, t time.Time) int {
	t = t.In(day.Location())
	return t.Hour()*60 + t.Minute()
}
