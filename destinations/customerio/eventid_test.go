package customerio

import (
	"testing"
	"time"
)

func TestEventID(t *testing.T) {
	tests := []struct {
		name      string
		messageID string
		ms        int64
		want      string
	}{
		{name: "T1 join", messageID: "growsurf:ct8f71:participant_joined:x9a7uu:track", ms: 1770714000123, want: "01KH3CETQV84G96YFJXMAPB47M"},
		{name: "T2 join", messageID: "growsurf:ct8f71:participant_joined:p88y0a:track", ms: 1772445600456, want: "01KJPZV2P84E1MFT50YG79HQYE"},
		{name: "T2 referral made", messageID: "growsurf:ct8f71:referral_made:x9a7uu:p88y0a:track", ms: 1772445600456, want: "01KJPZV2P86X0QGXHD8RMZZHDG"},
		{name: "T2 converted", messageID: "growsurf:ct8f71:referral_converted:x9a7uu:p88y0a:track", ms: 1772445600456, want: "01KJPZV2P8P4Q0VF1VH0XNRNCD"},
		{name: "T3 reward", messageID: "growsurf:ct8f71:reward_earned:prew_ccm2ue:track", ms: 1772445601000, want: "01KJPZV378JHYCRF9J98Q6J718"},
		{name: "T7 pass-through", messageID: "app-conv-p88y0a", ms: 1772712000000, want: "01KJYXWYG0DAXW370XM65SSG5B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EventID(EventKey(tt.messageID), time.UnixMilli(tt.ms)); got != tt.want {
				t.Fatalf("EventID = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEventKey(t *testing.T) {
	tests := map[string]string{
		"growsurf:ct8f71:reward_earned:prew_ccm2ue:track":    "growsurf:ct8f71:reward_earned:prew_ccm2ue",
		"growsurf:ct8f71:reward_earned:prew_ccm2ue:identify": "growsurf:ct8f71:reward_earned:prew_ccm2ue",
		"growsurf:odd": "segment:growsurf:odd",
		"abc":          "segment:abc",
		"x:track":      "segment:x:track",
		"":             "segment:",
	}
	for in, want := range tests {
		if got := EventKey(in); got != want {
			t.Errorf("EventKey(%q) = %q, want %q", in, got, want)
		}
	}
}
