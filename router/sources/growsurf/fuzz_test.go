package growsurf

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzConvert feeds Convert arbitrary bodies, seeded with every golden
// request: it never panics, and either reports ErrMalformed or returns a
// Result whose messages all have an ID, a valid JSON body agreeing with
// the message, and identify before track per person; an unmapped result
// has no messages; every result has a DeliveryKey.
func FuzzConvert(f *testing.F) {
	reqs, err := filepath.Glob(filepath.Join("testdata", "*", "request.json"))
	if err != nil || len(reqs) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, p := range reqs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b, uint8(5))
	}
	f.Fuzz(func(t *testing.T, body []byte, opts uint8) {
		s := Settings{
			Identifier:      []string{"", IdentifierEmail, IdentifierAppUserID, IdentifierGrowSurfID}[opts%4],
			ReferralTrigger: []string{TriggerQualifyingAction, TriggerSignup}[opts/4%2],
		}
		res, err := Convert(body, testSource, s, defaultReceivedAt)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if res.DeliveryKey == "" {
			t.Fatal("empty DeliveryKey")
		}
		if res.Unmapped == "" && len(res.Messages) == 0 {
			t.Fatal("neither messages nor an unmapped reason")
		}
		checkMessages(t, res)
	})
}
