// Package ohxtest provides test helpers for code built on ohx.
//
// [Provider] is a fake ohx.Provider that needs no network: for every requested
// data type it generates samples at a fixed spacing, aligned to multiples of
// the spacing since the Unix epoch, with values computed from the time, so the
// same window always yields the same samples. It offers heart rate, steps,
// ECG (with the heart rate recorded with it, as a companion sample) and body
// weight by default, lists one device, and can be told to fail once after a
// number of samples (FailAfter, FailErr) to test retries and cursors:
//
//	p := &ohxtest.Provider{Every: 15 * time.Minute}
//	engine, err := ohx.NewEngine(ohx.EngineConfig{
//		Providers: []ohx.Provider{p}, Links: st, Cursors: st,
//		Transformer: tr, Publisher: pub,
//	})
//
// See the root package's ExampleNewEngine for a complete program. For fakes of
// the real provider clouds use withings/withingstest and fitbit/fitbittest; for
// a FHIR server, publish/fhirtest.
package ohxtest
