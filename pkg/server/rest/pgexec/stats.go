package pgexec

import "sync/atomic"

// tally counts the transactions Execute ran, for the tenant's metrics
// (sfp_rest_transactions_total): one atomic add per transaction, read
// only when scraped.
type tally struct {
	reads, writes             atomic.Int64
	failedReads, failedWrites atomic.Int64
}

func (e *Executor) count(readOnly bool, err error) {
	switch {
	case readOnly && err == nil:
		e.tally.reads.Add(1)
	case readOnly:
		e.tally.failedReads.Add(1)
	case err == nil:
		e.tally.writes.Add(1)
	default:
		e.tally.failedWrites.Add(1)
	}
}

// Totals counts the transactions Execute ran since New.
type Totals struct {
	// Reads and Writes succeeded; FailedReads and FailedWrites returned
	// an error (PostgreSQL's, the connection's or the Check's).
	Reads, Writes, FailedReads, FailedWrites int64
	// SharedReads and RetriedReads are Stats'.
	SharedReads, RetriedReads int64
}

// Totals returns the transaction counters with the shared-read ones.
func (e *Executor) Totals() Totals {
	st := e.Stats()
	return Totals{
		Reads: e.tally.reads.Load(), Writes: e.tally.writes.Load(),
		FailedReads: e.tally.failedReads.Load(), FailedWrites: e.tally.failedWrites.Load(),
		SharedReads: st.SharedReads, RetriedReads: st.RetriedReads,
	}
}
