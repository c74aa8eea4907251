package queue_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

// A burst of webhook notifications for the same link and data type coalesces
// into one job whose window covers them all.
func ExampleMemory_coalescing() {
	q, err := queue.NewMemory(queue.Config{Concurrency: 1})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 3 {
		w := ohx.Window{Start: start.Add(time.Duration(i) * time.Hour), End: start.Add(time.Duration(i+1) * time.Hour)}
		id, err := q.Enqueue(context.Background(), ohx.Job{
			LinkID: "link-1", DataTypes: []ohx.DataType{ohx.HeartRate}, Trigger: ohx.TriggerPush, Window: &w,
		}, ohx.EnqueueOptions{})
		if err != nil {
			panic(err)
		}
		ids = append(ids, id)
	}
	fmt.Println("same job:", ids[0] == ids[1] && ids[1] == ids[2])

	ctx, cancel := context.WithCancel(context.Background())
	_ = q.Run(ctx, ohx.HandlerFunc(func(_ context.Context, j ohx.Job) error {
		fmt.Println("sync", j.LinkID, j.Window)
		cancel()
		return nil
	}))
	// Output:
	// same job: true
	// sync link-1 2026-11-20T08:00:00Z/2026-11-20T11:00:00Z
}
