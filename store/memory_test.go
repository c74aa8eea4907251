package store_test

import (
	"testing"

	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/storetest"
)

func memoryFactory(_ testing.TB, cfg storetest.Config) storetest.Harness {
	return storetest.Harness{Store: store.NewMemory(store.WithMemoryClock(cfg.Clock.Now))}
}

func TestMemoryConformance(t *testing.T) {
	storetest.Run(t, memoryFactory)
}

func BenchmarkMemory(b *testing.B) {
	storetest.Bench(b, memoryFactory)
}
