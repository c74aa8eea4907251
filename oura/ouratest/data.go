package ouratest

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/openhealthexchange/ohx/oura/internal/wire"
)

// Data is generated from the user id and the civil day, so the same day
// always holds the same documents; what exists depends on Config.Now.

type dayKey struct {
	user string
	date wire.Date
}

// dayData is one civil day of a user: every document Oura files under it.
type dayData struct {
	sleeps     []wire.Sleep // all periods, deleted and rest ones included
	activity   wire.DailyActivity
	readiness  wire.DailyReadiness
	dailySleep wire.DailySleep
	spo2       wire.DailySpO2
	vo2        *wire.VO2Max
	stress     wire.DailyStress
	resilience wire.DailyResilience
	cvAge      wire.CardiovascularAge
	workout    wire.Workout
	// mainStart/mainEnd span the night's long_sleep; readyAt is when the
	// night's summaries exist; endOfDay is the next local midnight.
	mainStart, mainEnd, readyAt, endOfDay time.Time
}

var idSpace = uuid.MustParse("7d5e0b8a-8a43-4b9e-9a35-6f3f0c0e0a11")

func docID(u *user, kind string, d wire.Date, n int) string {
	return uuid.NewSHA1(idSpace, []byte(u.ID+"|"+kind+"|"+d.String()+"|"+string(rune('0'+n)))).String()
}

// dayIndex numbers civil days, so that every nth day can differ.
func dayIndex(d wire.Date) int { return int(d.In(time.UTC).Unix() / 86400) }

func rngFor(u *user, d wire.Date, salt string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(u.ID + "|" + d.String() + "|" + salt))
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

func f(v float64) *float64 { return &v }

func str(v string) *string { return &v }

func round(v, step float64) float64 { return math.Round(v/step) * step }

// day returns the documents of u's civil day d, generated once.
func (s *Server) day(u *user, d wire.Date) *dayData {
	k := dayKey{u.ID, d}
	s.mu.Lock()
	dd := s.days[k]
	s.mu.Unlock()
	if dd != nil {
		return dd
	}
	dd = generate(u, d)
	s.mu.Lock()
	s.days[k] = dd
	s.mu.Unlock()
	return dd
}

func generate(u *user, d wire.Date) *dayData {
	r := rngFor(u, d, "day")
	idx := dayIndex(d)
	dd := &dayData{endOfDay: d.AddDays(1).In(u.loc)}
	prev := d.AddDays(-1).In(u.loc)

	// The night: a long_sleep from the evening before.
	start := prev.Add(22*time.Hour + 30*time.Minute + time.Duration(r.IntN(90*60))*time.Second)
	length := 6*time.Hour + 30*time.Minute + time.Duration(r.IntN(120*60))*time.Second
	main := sleepPeriod(u, d, 0, "long_sleep", start, length, r)
	dd.mainStart, dd.mainEnd = main.BedtimeStart.Time, main.BedtimeEnd.Time
	dd.readyAt = dd.mainEnd.Add(10 * time.Minute)
	tempDev := f(round(r.Float64()-0.5, 0.01))
	if idx%11 == 0 {
		tempDev = nil
	}
	readinessScore := f(float64(60 + r.IntN(35)))
	contributors := map[string]*float64{}
	for _, k := range []string{"activity_balance", "body_temperature", "hrv_balance", "previous_day_activity", "previous_night",
		"recovery_index", "resting_heart_rate", "sleep_balance"} {
		contributors[k] = f(float64(40 + r.IntN(60)))
	}
	main.Readiness = &wire.SleepReadiness{Score: readinessScore, TemperatureDeviation: tempDev, TemperatureTrendDeviation: f(round(r.Float64()*0.4-0.2, 0.01)),
		Contributors: contributors}
	dd.sleeps = append(dd.sleeps, main)
	day := d.In(u.loc)
	if idx%4 == 0 {
		dd.sleeps = append(dd.sleeps, sleepPeriod(u, d, 1, "sleep", day.Add(14*time.Hour+time.Duration(r.IntN(1800))*time.Second), 30*time.Minute+time.Duration(r.IntN(1200))*time.Second, r))
	}
	if idx%5 == 0 {
		dd.sleeps = append(dd.sleeps, sleepPeriod(u, d, 2, "rest", day.Add(12*time.Hour+10*time.Minute), 20*time.Minute, r))
	}
	if idx%7 == 3 {
		dd.sleeps = append(dd.sleeps, sleepPeriod(u, d, 3, "deleted", day.Add(16*time.Hour+30*time.Minute), 25*time.Minute, r))
	}

	four := day.Add(4 * time.Hour)
	steps := float64(2500 + r.IntN(13500))
	met := make([]*float64, 1440)
	for i := range met {
		met[i] = f(round(0.9+r.Float64()*2, 0.1))
	}
	class := make([]byte, 288)
	for i := range class {
		class[i] = byte('0' + r.IntN(6))
	}
	dd.activity = wire.DailyActivity{
		ID: docID(u, "daily_activity", d, 0), Day: d, Timestamp: wire.Time{Time: four},
		Steps: f(steps), ActiveCalories: f(round(steps*0.04, 1)), TotalCalories: f(round(2000+steps*0.04, 1)),
		EquivalentWalkingDistance: f(round(steps*0.8, 1)), Score: f(float64(60 + r.IntN(40))),
		HighActivityTime: f(float64(60 * r.IntN(60))), MediumActivityTime: f(float64(60 * r.IntN(90))), LowActivityTime: f(float64(60 * r.IntN(300))),
		SedentaryTime: f(float64(60 * (400 + r.IntN(200)))), RestingTime: f(float64(60 * (300 + r.IntN(200)))), NonWearTime: f(float64(60 * r.IntN(30))),
		AverageMETMinutes: f(round(1+r.Float64(), 0.001)), Class5Min: str(string(class)),
		MET:                    &wire.Series{Interval: 60, Items: met, Timestamp: wire.Time{Time: four}},
		HighActivityMETMinutes: f(float64(r.IntN(400))), MediumActivityMETMinutes: f(float64(r.IntN(300))),
		LowActivityMETMinutes: f(float64(r.IntN(200))), SedentaryMETMinutes: f(float64(r.IntN(30))),
		InactivityAlerts: f(float64(r.IntN(3))), TargetCalories: f(500), TargetMeters: f(10000),
		MetersToTarget: f(round(10000-steps*0.8, 1)),
		Contributors: map[string]*float64{"meet_daily_targets": f(float64(40 + r.IntN(60))), "move_every_hour": f(100),
			"recovery_time": f(100), "stay_active": f(float64(50 + r.IntN(50))), "training_frequency": f(float64(40 + r.IntN(60))),
			"training_volume": f(float64(40 + r.IntN(60)))},
	}
	midnightUTC := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) // Oura writes T00:00+00:00
	dd.readiness = wire.DailyReadiness{ID: docID(u, "daily_readiness", d, 0), Day: d, Score: readinessScore, TemperatureDeviation: tempDev,
		TemperatureTrendDeviation: main.Readiness.TemperatureTrendDeviation, Timestamp: wire.Time{Time: midnightUTC},
		Contributors: main.Readiness.Contributors}
	dd.dailySleep = wire.DailySleep{ID: docID(u, "daily_sleep", d, 0), Day: d, Score: f(float64(55 + r.IntN(40))), Timestamp: wire.Time{Time: midnightUTC},
		Contributors: map[string]*float64{"deep_sleep": f(float64(50 + r.IntN(50))), "efficiency": main.Efficiency}}
	dd.spo2 = wire.DailySpO2{ID: docID(u, "daily_spo2", d, 0), Day: d, BreathingDisturbanceIndex: f(float64(r.IntN(20)))}
	if idx%6 != 0 {
		dd.spo2.SpO2Percentage = &wire.SpO2Percentage{Average: f(round(95+r.Float64()*4, 0.001))}
	}
	if idx%7 == 0 {
		dd.vo2 = &wire.VO2Max{ID: docID(u, "vO2_max", d, 0), Day: d, Timestamp: wire.Time{Time: day.Add(9 * time.Hour)}, VO2Max: f(float64(38 + r.IntN(9)))}
	}
	summary := []string{"restored", "normal", "stressful"}[r.IntN(3)]
	dd.stress = wire.DailyStress{ID: docID(u, "daily_stress", d, 0), Day: d, StressHigh: f(float64(900 * r.IntN(8))), RecoveryHigh: f(float64(900 * r.IntN(8))), DaySummary: &summary}
	dd.resilience = wire.DailyResilience{ID: docID(u, "daily_resilience", d, 0), Day: d, Level: []string{"limited", "adequate", "solid", "strong", "exceptional"}[r.IntN(5)],
		Contributors: map[string]*float64{"sleep_recovery": f(round(40+r.Float64()*20, 0.1)), "daytime_recovery": f(round(40+r.Float64()*20, 0.1)), "stress": f(round(30+r.Float64()*20, 0.1))}}
	dd.cvAge = wire.CardiovascularAge{ID: docID(u, "daily_cardiovascular_age", d, 0), Day: d, VascularAge: f(float64(35 + r.IntN(8))), PulseWaveVelocity: f(round(6+r.Float64()*2, 0.1))}
	ws := day.Add(18 * time.Hour)
	dd.workout = wire.Workout{ID: docID(u, "workout", d, 0), Activity: "walking", Calories: f(round(40+r.Float64()*30, 0.001)), Day: d,
		StartDatetime: wire.Time{Time: ws}, EndDatetime: wire.Time{Time: ws.Add(10 * time.Minute)}, Intensity: "moderate", Source: "autodetected"}
	return dd
}

// sleepPeriod generates one period with consistent durations, 5-minute
// series and stages.
func sleepPeriod(u *user, d wire.Date, period int, typ string, start time.Time, length time.Duration, r *rand.Rand) wire.Sleep {
	end := start.Add(length)
	n := int(length / (5 * time.Minute))
	phases := make([]byte, n)
	hr := make([]*float64, n)
	hrv := make([]*float64, n)
	var hrSum, hrvSum float64
	var hrN, hrvN int
	lowest := math.Inf(1)
	for i := range n {
		switch {
		case i < 2 || i == n-1:
			phases[i] = '4'
		default:
			phases[i] = "1222333"[r.IntN(7)]
		}
		if r.IntN(30) == 0 {
			continue // a gap: no reading in this interval
		}
		h := float64(48 + r.IntN(20) + 6*int(phases[i]-'1')/3)
		v := float64(15 + r.IntN(40) + 20*i/n)
		hr[i], hrv[i] = f(h), f(v)
		hrSum, hrvSum = hrSum+h, hrvSum+v
		hrN, hrvN = hrN+1, hrvN+1
		lowest = min(lowest, h)
	}
	var deep, light, rem float64
	for _, p := range phases {
		switch p {
		case '1':
			deep += 300
		case '2':
			light += 300
		case '3':
			rem += 300
		}
	}
	inBed := math.Round(length.Seconds())
	total := deep + light + rem
	s := wire.Sleep{
		ID: docID(u, "sleep", d, period), Day: d, Type: typ, Period: period,
		BedtimeStart: wire.Time{Time: start}, BedtimeEnd: wire.Time{Time: end},
		TimeInBed: f(inBed), TotalSleepDuration: f(total), DeepSleepDuration: f(deep), LightSleepDuration: f(light), RemSleepDuration: f(rem),
		AwakeTime: f(inBed - total), Latency: f(float64(300 + r.IntN(900))), Efficiency: f(math.Round(100 * total / inBed)),
		AverageBreath: f(round(12+r.Float64()*4, 0.125)), SleepPhase5Min: str(string(phases)),
		HeartRate:             &wire.Series{Interval: 300, Items: hr, Timestamp: wire.Time{Time: start}},
		HRV:                   &wire.Series{Interval: 300, Items: hrv, Timestamp: wire.Time{Time: start}},
		Movement30Sec:         str(strings.Repeat("1", 2*n)),
		RestlessPeriods:       f(float64(r.IntN(300))),
		SleepAlgorithmVersion: str("v2"), ReadinessScoreDelta: f(0), SleepScoreDelta: f(0),
	}
	if hrN > 0 {
		s.AverageHeartRate = f(round(hrSum/float64(hrN), 0.125))
		s.LowestHeartRate = f(lowest)
	}
	if hrvN > 0 {
		s.AverageHRV = f(math.Round(hrvSum / float64(hrvN)))
	}
	return s
}

// hrRow is one heart-rate row with its rank in the day's order.
type hrRow struct {
	wire.HeartRate
	at time.Time
}

// heartRates returns u's heart-rate rows in [from, to] that exist at now,
// ascending: background rows every HeartRateEvery ("sleep" during the
// night, else "awake"), a second "rest" row at the same instant every full
// hour of the day (Oura reports one instant under several sources), and
// rows every 5 s during the evening workout.
func (s *Server) heartRates(u *user, from, to, now time.Time) []wire.HeartRate {
	if to.After(now) {
		to = now
	}
	if to.Before(from) {
		return nil
	}
	type span struct{ start, end time.Time }
	var nights, workouts []span
	for d := wire.DateOf(from.In(u.loc)).AddDays(-1); d.Compare(wire.DateOf(to.In(u.loc)).AddDays(1)) <= 0; d = d.AddDays(1) {
		dd := s.day(u, d)
		nights = append(nights, span{dd.mainStart, dd.mainEnd})
		workouts = append(workouts, span{dd.workout.StartDatetime.Time, dd.workout.EndDatetime.Time})
	}
	in := func(spans []span, t time.Time) bool {
		for _, sp := range spans {
			if !t.Before(sp.start) && t.Before(sp.end) {
				return true
			}
		}
		return false
	}
	bpm := func(t time.Time, base, spread int) float64 {
		h := fnv.New32a()
		_, _ = h.Write([]byte(u.ID + t.UTC().Format(time.RFC3339)))
		return float64(base + int(h.Sum32()%uint32(spread)))
	}
	var rows []hrRow
	add := func(t time.Time, source string, v float64) {
		rows = append(rows, hrRow{HeartRate: wire.HeartRate{BPM: v, Source: source, Timestamp: wire.Time{Time: t.UTC()}}, at: t})
	}
	every := s.cfg.HeartRateEvery
	for t := from.Truncate(every); !t.After(to); t = t.Add(every) {
		if t.Before(from) {
			continue
		}
		switch {
		case in(nights, t):
			add(t, "sleep", bpm(t, 50, 15))
		default:
			add(t, "awake", bpm(t, 65, 30))
			if t.Truncate(time.Hour).Equal(t) {
				add(t, "rest", bpm(t.Add(time.Second), 60, 15))
			}
		}
	}
	for _, w := range workouts {
		for t := w.start; t.Before(w.end); t = t.Add(5 * time.Second) {
			if !t.Before(from) && !t.After(to) {
				add(t, "workout", bpm(t, 110, 40))
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b hrRow) int { return a.at.Compare(b.at) })
	out := make([]wire.HeartRate, len(rows))
	for i, r := range rows {
		out[i] = r.HeartRate
	}
	return out
}
