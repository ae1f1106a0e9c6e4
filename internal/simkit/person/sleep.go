package person

import "time"

// Stage is a sleep stage, as Fitbit's levels name them.
type Stage uint8

const (
	Wake Stage = iota
	Light
	Deep
	REM
)

// Stages in Fitbit's summary order.
var Stages = []Stage{Deep, Light, REM, Wake}

func (s Stage) String() string { return [...]string{"wake", "light", "deep", "rem"}[s] }

// Epoch is the length of one sleep stage sample.
const Epoch = 30 * time.Second

// Sleep is one sleep session.
type Sleep struct {
	LogID  int64
	Start  time.Time // on an epoch boundary, whole minutes
	Epochs []Stage   // one per Epoch from Start
	IsMain bool
}

// End is when the session ended.
func (s Sleep) End() time.Time { return s.Start.Add(time.Duration(len(s.Epochs)) * Epoch) }

// Seconds is the time spent in stage.
func (s Sleep) Seconds(stage Stage) int {
	n := 0
	for _, e := range s.Epochs {
		if e == stage {
			n++
		}
	}
	return n * int(Epoch/time.Second)
}

// TimeInBedMinutes is the session's length in whole minutes.
func (s Sleep) TimeInBedMinutes() int { return len(s.Epochs) * int(Epoch/time.Second) / 60 }

// AsleepMinutes is the time not awake, in whole minutes.
func (s Sleep) AsleepMinutes() int {
	return (len(s.Epochs)*int(Epoch/time.Second) - s.Seconds(Wake)) / 60
}

// AwakeMinutes is TimeInBedMinutes minus AsleepMinutes, so the two add up.
func (s Sleep) AwakeMinutes() int { return s.TimeInBedMinutes() - s.AsleepMinutes() }

// Efficiency is the percentage of the time in bed spent asleep.
func (s Sleep) Efficiency() int {
	if len(s.Epochs) == 0 {
		return 0
	}
	return s.AsleepMinutes() * 100 / s.TimeInBedMinutes()
}

// Run is a stretch of one stage.
type Run struct {
	Start   time.Time
	Stage   Stage
	Seconds int
}

// Runs merges consecutive epochs of one stage.
func (s Sleep) Runs() []Run {
	var runs []Run
	for i, e := range s.Epochs {
		if n := len(runs); n > 0 && runs[n-1].Stage == e {
			runs[n-1].Seconds += int(Epoch / time.Second)
			continue
		}
		runs = append(runs, Run{Start: s.Start.Add(time.Duration(i) * Epoch), Stage: e, Seconds: int(Epoch / time.Second)})
	}
	return runs
}

// Sleeps returns the sleep sessions that end on day (Fitbit's dateOfSleep):
// one main sleep that began the evening before.
func (p *Person) Sleeps(day time.Time) []Sleep {
	day = p.DayOf(day)
	r := p.rng(day, "sleep")
	prev := day.AddDate(0, 0, -1)
	start := p.At(prev, 22*60+between(r, 0, 150)) // 22:00..00:30
	total := between(r, 6*120, 8*120+60)          // 6 h .. 8 h 30 in epochs
	epochs := make([]Stage, 0, total)
	add := func(s Stage, n int) {
		for range n {
			if len(epochs) < total {
				epochs = append(epochs, s)
			}
		}
	}
	add(Wake, between(r, 2, 16)) // falling asleep
	for cycle := 0; len(epochs) < total; cycle++ {
		// Deep sleep is longer early in the night, REM later.
		add(Light, between(r, 30, 70))
		add(Deep, max(4, between(r, 20, 60)-cycle*10))
		add(Light, between(r, 10, 40))
		add(REM, between(r, 10, 30)+cycle*8)
		if r.IntN(2) == 0 {
			add(Wake, between(r, 1, 6))
		}
	}
	epochs[len(epochs)-1] = Wake // waking up
	return []Sleep{{
		LogID:  start.Unix()*1000 + int64(between(r, 0, 999)),
		Start:  start,
		Epochs: epochs,
		IsMain: true,
	}}
}
