package eventlog

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// checkDroppedPartitions refuses a partition count that leaves messages
// unread.
//
// A message is stored on its partition's subject and read by that
// partition's consumer of each destination, so with fewer partitions than
// the log was written with, the partitions at and past the new count have no
// reader: their undelivered messages would stay in the log, unread, until
// retention dropped them. Open therefore fails when a destination's
// consumer of such a partition has messages pending or awaiting
// acknowledgement, and names the count to go back to; once they are
// delivered, the smaller count opens (the delivered partitions' consumers
// stay as they are).
func (l *Log) checkDroppedPartitions(ctx context.Context) error {
	prefix := l.cfg.StreamPrefix + ".events."
	var stranded []string
	need := 0
	lister := l.events.ListConsumers(ctx)
	for info := range lister.Info() {
		if info.Config.Durable == "" || !strings.HasPrefix(info.Config.FilterSubject, prefix) {
			continue
		}
		p, err := strconv.Atoi(strings.TrimPrefix(info.Config.FilterSubject, prefix))
		if err != nil || p < l.cfg.Partitions {
			continue
		}
		if n := info.NumPending + uint64(info.NumAckPending); n > 0 {
			need = max(need, p+1)
			stranded = append(stranded, fmt.Sprintf("%s (partition %d, pending records: %d)", info.Name, p, n))
		}
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("checking the partitions' consumers: %w", err)
	}
	if len(stranded) == 0 {
		return nil
	}
	slices.Sort(stranded)
	return fmt.Errorf("queue.partitions is %d, but partitions past it hold undelivered messages (destination consumers: %s): "+
		"set queue.partitions to %d or more until they are delivered", l.cfg.Partitions, strings.Join(stranded, ", "), need)
}
