package ohx

import (
	"context"
	"sync"
)

// arenaChunk is the size of the chunks an Arena cuts buffers from: a batch of
// 500 Observations of about 1 KB takes eight.
const arenaChunk = 64 << 10

// Arena holds the JSON of the resources of one batch, so that the memory is
// used again for a later batch instead of being allocated anew for every
// resource. When its Publisher is a JSONReleaser, the engine hands one to
// the Transformer (Batch.Arena, or ArenaStream.NextIn) and resets it once
// every resource of the batch was published; a Transformer that writes a
// resource's JSON takes the buffer from it (Buffer, then Keep). Everything an Arena handed out is
// overwritten after Reset: a Transformer must not keep it, nor put anything
// else than Resource.JSON in it.
//
// The nil *Arena is usable and hands out buffers of their own. An Arena is
// used by one goroutine at a time.
type Arena struct {
	chunks [][]byte // chunks[cur] is being filled; those after it are free
	cur    int
	// resources is handed out up to len by Resources.
	resources []Resource
}

// Resources returns an empty slice with room for n resources, for a
// Transformer's result: like the JSON buffers, its memory is used again
// after Reset. Its capacity is cut at n: an append past it copies.
func (a *Arena) Resources(n int) []Resource {
	if a == nil {
		return make([]Resource, 0, n)
	}
	if cap(a.resources)-len(a.resources) < n {
		a.resources = make([]Resource, 0, max(n, 2*cap(a.resources)))
	}
	l := len(a.resources)
	a.resources = a.resources[:l+n]
	return a.resources[l : l : l+n]
}

// Buffer returns an empty buffer with room for n bytes, the caller's upper
// bound of what it appends before it passes the buffer to Keep.
func (a *Arena) Buffer(n int) []byte {
	if a == nil {
		return make([]byte, 0, n)
	}
	for a.cur < len(a.chunks) {
		c := a.chunks[a.cur]
		if cap(c)-len(c) >= n {
			return c[len(c):]
		}
		a.cur++
	}
	a.chunks = append(a.chunks, make([]byte, 0, max(n, arenaChunk)))
	return a.chunks[a.cur][:0]
}

// Keep takes the buffer b that Buffer returned, after the caller appended to
// it, out of the arena's free memory, and returns it with its capacity cut at
// its length: an append to it copies rather than writing into the next
// buffer. A buffer that outgrew the room Buffer gave was moved by append to
// memory of its own, and is returned as it is.
func (a *Arena) Keep(b []byte) []byte {
	if a == nil || a.cur == len(a.chunks) {
		return b
	}
	c := a.chunks[a.cur]
	// append moves a buffer only past its capacity, the chunk's free part:
	// a buffer that still fits is in the chunk.
	if len(b) <= cap(c)-len(c) {
		a.chunks[a.cur] = c[:len(c)+len(b)]
	}
	return b[:len(b):len(b)]
}

// Reset makes all the memory the arena handed out free again. The caller
// guarantees that nothing it handed out is used any more.
func (a *Arena) Reset() {
	if a == nil {
		return
	}
	for i := range a.chunks[:min(a.cur+1, len(a.chunks))] {
		a.chunks[i] = a.chunks[i][:0]
	}
	a.cur = 0
	clear(a.resources) // no strings of old resources kept alive
	a.resources = a.resources[:0]
}

// arenas holds the Arenas whose resources were all published.
var arenas = sync.Pool{New: func() any { return new(Arena) }}

func getArena() *Arena { return arenas.Get().(*Arena) }

// putArena resets a (nil is fine) and keeps it for a later batch.
func putArena(a *Arena) {
	if a != nil {
		a.Reset()
		arenas.Put(a)
	}
}

// ArenaStream is implemented by a TransformStream that writes the JSON of a
// batch's resources into an Arena. With a Publisher that is a JSONReleaser,
// the engine calls NextIn instead of Next, with an arena it reuses once the
// batch's resources were all published. The stream must not keep anything
// it wrote into the arena past the call (what it keeps of a resource for a
// later Provenance, its type, id and identifier, are strings of their own).
type ArenaStream interface {
	// NextIn is Next with the JSON of the batch's resources written into a.
	NextIn(ctx context.Context, samples []Sample, a *Arena) ([]Resource, error)
}

// JSONReleaser is implemented by a Publisher that keeps no reference to the
// JSON of the resources it was given once Publish returned (a copy is
// fine). The engine then writes the JSON of each batch into an Arena that it
// reuses for the next batch.
type JSONReleaser interface {
	// ReleasesJSON reports whether Publish keeps nothing of Resource.JSON
	// after it returned.
	ReleasesJSON() bool
}
