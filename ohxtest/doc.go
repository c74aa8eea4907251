// Package ohxtest provides test helpers for code built on ohx: a fake
// [Provider] that generates deterministic samples without any network, and
// recording fakes of the engine's other parts.
package ohxtest
