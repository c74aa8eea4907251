package withings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// This file holds the wire types of the Withings API and their lenient
// decoders. Withings' real payloads differ from its specification in small
// ways (modelid vs model_id, deviceid null or an integer, ints sent as
// strings, more as 0/1 or a bool), so scalar fields use the flex* types below,
// which accept every form seen in the wild.

var null = []byte("null")

// unquote strips one pair of JSON string quotes; ok is false for a string
// with escapes (none of our scalar fields needs them).
func unquote(b []byte) ([]byte, bool) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		s := b[1 : len(b)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			return nil, false
		}
		return s, true
	}
	return b, true
}

// flexInt is an integer sent as a JSON number or a string of digits; null
// and "" decode as zero. A number with a fraction is truncated only when it
// is integral (1.0).
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, null) {
		*f = 0
		return nil
	}
	s, ok := unquote(b)
	if !ok {
		return decodeError("withings: escaped integer string")
	}
	if len(s) == 0 {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(string(s), 64)
		if ferr != nil || fl != float64(int64(fl)) {
			return decodeError("withings: not an integer")
		}
		n = int64(fl)
	}
	*f = flexInt(n)
	return nil
}

// flexFloat is a number sent as a JSON number or a string; null decodes as
// zero with Valid false.
type flexFloat struct {
	V     float64
	Valid bool
}

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, null) {
		*f = flexFloat{}
		return nil
	}
	s, ok := unquote(b)
	if !ok {
		return decodeError("withings: escaped number string")
	}
	if len(s) == 0 {
		*f = flexFloat{}
		return nil
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return decodeError("withings: not a number")
	}
	*f = flexFloat{V: v, Valid: true}
	return nil
}

// flexBool is a flag sent as a JSON bool, 0/1 or a string of either.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, null) {
		*f = false
		return nil
	}
	s, ok := unquote(b)
	if !ok {
		return decodeError("withings: escaped flag string")
	}
	switch string(s) {
	case "true", "1":
		*f = true
	case "false", "0", "":
		*f = false
	default:
		return decodeError("withings: not a flag")
	}
	return nil
}

// flexString is a string that may also arrive as a number or null (deviceid,
// userid).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, null) {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if s, ok := unquote(b); ok {
			*f = flexString(s)
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if _, err := strconv.ParseFloat(string(b), 64); err != nil {
		return decodeError("withings: expected a string or a number")
	}
	*f = flexString(b)
	return nil
}

// --- Measure getmeas -------------------------------------------------------

// measureBody is the body of getmeas.
type measureBody struct {
	UpdateTime  flexInt        `json:"updatetime"`
	Timezone    string         `json:"timezone"`
	MeasureGrps []measureGroup `json:"measuregrps"`
	More        flexBool       `json:"more"`
	Offset      flexInt        `json:"offset"`
}

// measureGroup is one entry of measuregrps.
type measureGroup struct {
	GrpID    flexInt    `json:"grpid"`
	Attrib   flexInt    `json:"attrib"`
	Date     flexInt    `json:"date"`
	Created  flexInt    `json:"created"`
	Modified flexInt    `json:"modified"`
	Category flexInt    `json:"category"`
	DeviceID flexString `json:"deviceid"`
	Model    flexString `json:"model"`
	ModelID  flexInt    `json:"modelid"`
	ModelID2 flexInt    `json:"model_id"`
	Timezone string     `json:"timezone"`
	Measures []measure  `json:"measures"`
}

// measure is one value of a group: value × 10^unit.
type measure struct {
	Value    flexInt `json:"value"`
	Type     flexInt `json:"type"`
	Unit     flexInt `json:"unit"`
	Position *int    `json:"position"`
}

// --- Measure v2 getactivity / getintradayactivity --------------------------

type activityBody struct {
	Activities []activity `json:"activities"`
	More       flexBool   `json:"more"`
	Offset     flexInt    `json:"offset"`
}

type activity struct {
	Date     string     `json:"date"`
	Timezone string     `json:"timezone"`
	DeviceID flexString `json:"deviceid"`
	Model    flexString `json:"model"`
	ModelID  flexInt    `json:"modelid"`
	Brand    flexInt    `json:"brand"`
	Modified flexInt    `json:"modified"`
	Steps    flexFloat  `json:"steps"`
}

type intradayBody struct {
	Series map[string]intradayPoint `json:"series"`
}

type intradayPoint struct {
	HeartRate flexFloat  `json:"heart_rate"`
	Steps     flexFloat  `json:"steps"`
	Duration  flexInt    `json:"duration"`
	DeviceID  flexString `json:"deviceid"`
	Model     flexString `json:"model"`
	ModelID   flexInt    `json:"model_id"`
}

// UnmarshalJSON accepts the series object and, leniently, an empty array
// (Withings sends [] when there is no data).
func (b *intradayBody) UnmarshalJSON(data []byte) error {
	var raw struct {
		Series json.RawMessage `json:"series"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	s := bytes.TrimSpace(raw.Series)
	if len(s) == 0 || bytes.Equal(s, null) || s[0] == '[' {
		var arr []json.RawMessage
		if len(s) > 0 && s[0] == '[' {
			if err := json.Unmarshal(s, &arr); err != nil {
				return err
			}
			if len(arr) > 0 {
				return decodeError("withings: intraday series is a non-empty array")
			}
		}
		b.Series = nil
		return nil
	}
	if series, ok := scanIntraday(b.Series, s); ok {
		b.Series = series
		return nil
	}
	return json.Unmarshal(s, &b.Series)
}

// The intraday series is the one large Withings answer: up to a point per
// second for 24 hours (86,400 objects), where measures, activities, sleep
// summaries and ECG lists are a few items a day. Its points are scanned by
// hand (internal/jsonscan) instead of by reflection; a series outside the
// plain shape (escapes, repeated or case-folded field names, true/false
// values) is left to encoding/json, which gives the same map or the error.
// The answer is still read whole: Withings reports failures as HTTP 200
// with a status member that may come after the body, and the API bounds
// the series to 24 hours.

// intradayFields are the point members read; encoding/json would match
// any case-folded spelling of them too.
var intradayFields = [...]string{"heart_rate", "steps", "duration", "deviceid", "model", "model_id"}

// scanIntraday adds the points of the series object s to dst (created when
// nil) as json.Unmarshal into the map would; ok is false when s is not in
// the plain shape, and dst is then to be discarded if it was created here.
func scanIntraday(dst map[string]intradayPoint, s []byte) (map[string]intradayPoint, bool) {
	if dst == nil {
		dst = make(map[string]intradayPoint, len(s)/80)
	}
	var sc jsonscan.Scanner
	sc.Reset(s)
	ok := sc.Object(func(key []byte) bool {
		var p intradayPoint
		if !scanIntradayPoint(&sc, &p) {
			return false
		}
		dst[string(key)] = p
		return true
	}) && sc.End()
	return dst, ok
}

func scanIntradayPoint(sc *jsonscan.Scanner, p *intradayPoint) bool {
	var seen uint8
	return sc.Object(func(key []byte) bool {
		field := -1
		for i, f := range intradayFields {
			if string(key) == f {
				field = i
				break
			}
			if bytes.EqualFold(key, []byte(f)) {
				return false // encoding/json matches case-folded names
			}
		}
		if field < 0 {
			return sc.Skip() // calories, distance, elevation, …
		}
		if seen&(1<<field) != 0 {
			return false // a repeated field: encoding/json keeps the last
		}
		seen |= 1 << field
		raw, ok := sc.Scalar()
		if !ok {
			if !sc.Null() {
				return false
			}
			raw = null
		}
		switch field {
		case 0:
			return p.HeartRate.UnmarshalJSON(raw) == nil
		case 1:
			return p.Steps.UnmarshalJSON(raw) == nil
		case 2:
			return p.Duration.UnmarshalJSON(raw) == nil
		case 3:
			return p.DeviceID.UnmarshalJSON(raw) == nil
		case 4:
			return p.Model.UnmarshalJSON(raw) == nil
		default:
			return p.ModelID.UnmarshalJSON(raw) == nil
		}
	})
}

// --- Heart v2 --------------------------------------------------------------

type heartListBody struct {
	Series []heartItem `json:"series"`
	More   flexBool    `json:"more"`
	Offset flexInt     `json:"offset"`
}

type heartItem struct {
	DeviceID flexString `json:"deviceid"`
	Model    flexInt    `json:"model"`
	ECG      *struct {
		SignalID flexInt  `json:"signalid"`
		AFib     *flexInt `json:"afib"`
	} `json:"ecg"`
	HeartRate flexFloat `json:"heart_rate"`
	Timestamp flexInt   `json:"timestamp"`
	Modified  flexInt   `json:"modified"`
	Timezone  string    `json:"timezone"`
}

type heartGetBody struct {
	Signal            []int32   `json:"signal"`
	SamplingFrequency flexFloat `json:"sampling_frequency"`
	WearPosition      *flexInt  `json:"wearposition"`
	HeartRate         flexFloat `json:"heart_rate"`
}

// --- Sleep v2 --------------------------------------------------------------

type sleepSummaryBody struct {
	Series []sleepSummary `json:"series"`
	More   flexBool       `json:"more"`
	Offset flexInt        `json:"offset"`
}

type sleepSummary struct {
	ID        flexInt          `json:"id"`
	Timezone  string           `json:"timezone"`
	Model     flexInt          `json:"model"`
	ModelID   flexInt          `json:"model_id"`
	DeviceID  flexString       `json:"hash_deviceid"`
	StartDate flexInt          `json:"startdate"`
	EndDate   flexInt          `json:"enddate"`
	Date      string           `json:"date"`
	Created   flexInt          `json:"created"`
	Modified  flexInt          `json:"modified"`
	Data      sleepSummaryData `json:"data"`
}

type sleepSummaryData struct {
	TotalTimeInBed   flexFloat `json:"total_timeinbed"`
	TotalSleepTime   flexFloat `json:"total_sleep_time"`
	LightSleep       flexFloat `json:"lightsleepduration"`
	DeepSleep        flexFloat `json:"deepsleepduration"`
	REMSleep         flexFloat `json:"remsleepduration"`
	WakeUpDuration   flexFloat `json:"wakeupduration"`
	SleepEfficiency  flexFloat `json:"sleep_efficiency"`
	HRAverage        flexFloat `json:"hr_average"`
	RRAverage        flexFloat `json:"rr_average"`
	SleepScore       flexFloat `json:"sleep_score"`
	WakeUpCount      flexFloat `json:"wakeupcount"`
	SleepLatency     flexFloat `json:"sleep_latency"`
	WASO             flexFloat `json:"waso"`
	ApneaHypopnea    flexFloat `json:"apnea_hypopnea_index"`
	DurationToSleep  flexFloat `json:"durationtosleep"`
	DurationToWakeUp flexFloat `json:"durationtowakeup"`
}

type sleepGetBody struct {
	Series []sleepSegment `json:"series"`
	Model  flexInt        `json:"model"`
}

// sleepSegment is one state segment of Sleep v2 get; hr, rr, rmssd and
// sdnn_1 map epoch-second strings to values.
type sleepSegment struct {
	StartDate flexInt              `json:"startdate"`
	EndDate   flexInt              `json:"enddate"`
	State     flexInt              `json:"state"`
	Model     flexString           `json:"model"`
	ModelID   flexInt              `json:"model_id"`
	DeviceID  flexString           `json:"hash_deviceid"`
	HR        map[string]flexFloat `json:"hr"`
	RR        map[string]flexFloat `json:"rr"`
	RMSSD     map[string]flexFloat `json:"rmssd"`
	SDNN1     map[string]flexFloat `json:"sdnn_1"`
}

// --- User v2 getdevice ----------------------------------------------------

type deviceBody struct {
	Devices []device `json:"devices"`
}

type device struct {
	Type             string     `json:"type"`
	Battery          string     `json:"battery"`
	Model            flexString `json:"model"`
	ModelID          flexInt    `json:"model_id"`
	ModelID2         flexInt    `json:"modelid"`
	Timezone         string     `json:"timezone"`
	FirstSessionDate flexInt    `json:"first_session_date"`
	LastSessionDate  flexInt    `json:"last_session_date"`
	DeviceID         flexString `json:"deviceid"`
	HashDeviceID     flexString `json:"hash_deviceid"`
	Firmware         flexString `json:"fw"`
}

// --- Notify ----------------------------------------------------------------

type notifyListBody struct {
	Profiles []notifyProfile `json:"profiles"`
}

type notifyProfile struct {
	Appli       flexInt `json:"appli"`
	CallbackURL string  `json:"callbackurl"`
	Comment     string  `json:"comment"`
	Expires     flexInt `json:"expires"`
}

// --- OAuth2 ----------------------------------------------------------------

type tokenBody struct {
	UserID       flexString `json:"userid"`
	AccessToken  string     `json:"access_token"`
	RefreshToken string     `json:"refresh_token"`
	ExpiresIn    flexInt    `json:"expires_in"`
	Scope        string     `json:"scope"`
	TokenType    string     `json:"token_type"`
}

type nonceBody struct {
	Nonce string `json:"nonce"`
}

// envelopeStatus decodes only the status of a response envelope.
func envelopeStatus(data []byte) (int, error) {
	var env struct {
		Status flexInt `json:"status"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return 0, fmt.Errorf("withings: malformed response envelope: %w", sanitize(err))
	}
	return int(env.Status), nil
}

// decodeResponse decodes a successful response's body into out in one pass
// over the envelope.
func decodeResponse(data []byte, out any) error {
	env := struct {
		Body any `json:"body"`
	}{Body: out}
	if err := json.Unmarshal(data, &env); err != nil {
		// Withings sends an empty body as [] at times (a PHP empty array).
		var raw struct {
			Body json.RawMessage `json:"body"`
		}
		if json.Unmarshal(data, &raw) == nil && bytes.Equal(bytes.TrimSpace(raw.Body), []byte("[]")) {
			return nil
		}
		return fmt.Errorf("withings: malformed response body: %w", sanitize(err))
	}
	return nil
}

// sanitize keeps a JSON error's kind and offset but never the offending
// bytes, which may be a health value.
func sanitize(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("syntax error at offset %d", se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("cannot decode %s into field %s", te.Value, te.Field)
	}
	var de decodeError
	if errors.As(err, &de) {
		return de
	}
	return errors.New("invalid JSON")
}

// decodeError is a lenient decoder's complaint; it never holds a value.
type decodeError string

func (e decodeError) Error() string { return string(e) }
