//! Regional policy profiles: the deadlines of a SIP, as data.
//!
//! Regions agree different figures with their municipalities, so each deployment picks a profile
//! (`SAMPLAN_POLICY`), which a municipality may override (DESIGN.md, "Deadlines and regional
//! rules"). The figures come from the seeds:
//!
//! | profile | invitation | meeting | documentation | source |
//! |---|---|---|---|---|
//! | `norrbotten` | ≤ 3 working days after the need became known | 3–21 calendar days after the need became known | 3 calendar days after the meeting | `002_e8f513fd830d8301.txt` |
//! | `orebro` | as soon as possible after the discharge-ready notice (we read it as 1 working day) | green/yellow track: ≤ 4 weeks after discharge; red: before discharge; outpatient: ≤ 4 weeks after the need | 3 calendar days | `001_981d6886037d185d.txt`, `000_e0675eaa3014e37a.txt` |
//! | `stockholm` | without delay (we read it as 3 working days) | no fixed figure | 3 calendar days | `003_b47277a6b8e59a80.txt`, DESIGN.md |
//!
//! Every deadline ends at the end of a Swedish calendar day (23:59:59 Stockholm time, see
//! [`crate::time::end_of_local_day`]); the day is computed from the Swedish date of the starting
//! instant. Calendar-day deadlines are not moved off weekends or holidays: the seeds count plain
//! "dagar" and do not say so, and these are agreements between region and municipalities, not
//! statutory deadlines, to which the "söndagsregeln" (lag (1930:173) om beräkning av lagstadgad
//! tid, 2 §: move to the next weekday) would apply.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::add_working_days;
use crate::time::{end_of_local_day, local_date};

/// The profiles samplan ships with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyName {
    /// Region Norrbotten and its municipalities (outpatient SIP in Lifecare SP).
    Norrbotten,
    /// Region Örebro län (ViSam, SIP at discharge from inpatient care).
    Orebro,
    /// Region Stockholm (guidance on SIP for adults).
    Stockholm,
}

/// The policy name is not one samplan knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("unknown policy profile: {0}")]
    Unknown(String),
}

impl PolicyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "unknown_policy"
    }

    /// The problem in Swedish, listing the valid names.
    pub fn message(&self) -> String {
        match self {
            PolicyError::Unknown(given) => {
                let valid: Vec<&str> = PolicyName::ALL.iter().map(|p| p.as_str()).collect();
                format!(
                    "Okänd policyprofil \u{201d}{given}\u{201d}. Giltiga profiler: {}.",
                    valid.join(", ")
                )
            }
        }
    }
}

impl PolicyName {
    /// Every profile, in alphabetical order.
    pub const ALL: [PolicyName; 3] = [
        PolicyName::Norrbotten,
        PolicyName::Orebro,
        PolicyName::Stockholm,
    ];

    /// Parses a profile name: case-insensitive, surrounding whitespace ignored; "örebro" is
    /// accepted as well as "orebro".
    pub fn parse(s: &str) -> Result<PolicyName, PolicyError> {
        let wanted = s.trim().to_lowercase();
        let wanted = if wanted == "örebro" {
            "orebro".to_string()
        } else {
            wanted
        };
        PolicyName::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == wanted)
            .ok_or_else(|| PolicyError::Unknown(s.to_string()))
    }

    /// The stable name (as in `SAMPLAN_POLICY` and the serde form).
    pub fn as_str(&self) -> &'static str {
        match self {
            PolicyName::Norrbotten => "norrbotten",
            PolicyName::Orebro => "orebro",
            PolicyName::Stockholm => "stockholm",
        }
    }
}

impl std::fmt::Display for PolicyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Örebro's discharge tracks (grönt, gult, rött spår) for a patient in inpatient care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    /// Grönt spår: SIP offered after discharge.
    Green,
    /// Gult spår: SIP offered after discharge.
    Yellow,
    /// Rött spår: the SIP meeting is held before the patient goes home.
    Red,
}

/// When the invitation (kallelse) must be sent. Every rule yields a concrete due date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum InvitationRule {
    /// "snarast, dock senast inom tre arbetsdagar från det att behovet blivit känt"
    /// (`002_e8f513fd830d8301.txt`).
    WithinWorkingDaysOfNeedKnown { working_days: u32 },
    /// "så snart som möjligt efter att utskrivningsklarmeddelandet skickats. Vid rött spår …
    /// så fort som möjligt när behovet uppmärksammats" (`001_981d6886037d185d.txt`). The seed
    /// gives no figure; `working_days` is our reading of "so soon as possible". Counted from the
    /// discharge-ready notice, or from when the need became known if that is later or there is
    /// no notice (red track, outpatient).
    AsSoonAsPossibleAfterDischargeReady { working_days: u32 },
    /// No figure in the guidance (`003_b47277a6b8e59a80.txt`); `working_days` is our reading of
    /// "without delay", counted from when the need became known.
    WithoutDelay { working_days: u32 },
}

/// What the profile does for a red-track patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedTrackRule {
    /// The meeting is held before the patient goes home: due at discharge.
    BeforeDischarge,
}

/// When the SIP meeting must be held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum MeetingRule {
    /// "Själva mötet bör äga rum inom 3-21 dagar" and "ska upprättas inom 3-21 dagar från det att
    /// behovet blivit känt" (`002_e8f513fd830d8301.txt`): plain "dagar", so calendar days.
    DaysAfterNeedKnown { min_days: u32, max_days: u32 },
    /// "Vid grönt och gult spår … SIP-möte ska hållas inom 4 veckor efter utskrivning. Vid rött
    /// spår ska SIP-möte hållas innan hemgång" (`001_981d6886037d185d.txt`); outside discharge
    /// planning "ska planen påbörjas inom fyra veckor" (`000_e0675eaa3014e37a.txt`), counted
    /// from when the need became known.
    ByTrack {
        green_yellow_weeks_after_discharge: u32,
        red: RedTrackRule,
        outpatient_weeks_after_need_known: u32,
    },
    /// The guidance sets no deadline (`003_b47277a6b8e59a80.txt`); no to-do gets a due date.
    NoFixedDeadline,
}

/// One region's deadlines and habits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyProfile {
    pub name: PolicyName,
    pub invitation: InvitationRule,
    pub meeting: MeetingRule,
    /// Calendar days after the meeting by which every actor has documented its part: "inom tre
    /// dagar" (`000_e0675eaa3014e37a.txt`, `002_e8f513fd830d8301.txt`); Stockholm's guidance
    /// only says "så snart som möjligt", we use the same 3 days (DESIGN.md).
    pub documentation_days_after_meeting: u32,
    /// When the unit's inbox (Meddelanden) is watched: "2xdag kl. 09.00 och 14.00"
    /// (`002_e8f513fd830d8301.txt`). Empty when the profile says nothing.
    pub inbox_watch_times: Vec<NaiveTime>,
    /// Whether the person is offered SIP-kollen at the end of the meeting
    /// (`003_b47277a6b8e59a80.txt`).
    pub offers_sip_survey: bool,
    /// Whether a follow-up date must be agreed at the meeting. All three seeds require it
    /// ("Varje SIP ska ha minst en uppföljning", "datum för uppföljning beslutas", "Tid för
    /// uppföljning bokas direkt på mötet").
    pub follow_up_date_required: bool,
    /// Whether chair (mötesledare) and secretary (mötessekreterare) must be different people
    /// (`003_b47277a6b8e59a80.txt`, "Tänk på!").
    pub chair_and_secretary_differ: bool,
    /// A to-do is urgent (the red clock of "Att göra") when it is overdue or due by the end of
    /// this many working days after today. The seeds give no figure; 1 (due by the end of the
    /// next working day) gives staff who look twice a day one working day's warning.
    pub urgent_within_working_days: u32,
    /// How many calendar days before consent runs out the coordinator is asked to renew it
    /// (the to-do is hidden until then). The seeds say only that consent is time-limited
    /// ("Samtycket är tidsbegränsat", `003_b47277a6b8e59a80.txt`); 30 days leaves time to meet
    /// the person, or for a child about to turn 18 to be asked themselves.
    pub consent_renewal_notice_days: u32,
}

fn time(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

fn plus_calendar_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

impl PolicyProfile {
    /// The built-in profile `name`.
    pub fn get(name: PolicyName) -> PolicyProfile {
        match name {
            PolicyName::Norrbotten => PolicyProfile {
                name,
                invitation: InvitationRule::WithinWorkingDaysOfNeedKnown { working_days: 3 },
                meeting: MeetingRule::DaysAfterNeedKnown {
                    min_days: 3,
                    max_days: 21,
                },
                documentation_days_after_meeting: 3,
                inbox_watch_times: vec![time(9, 0), time(14, 0)],
                offers_sip_survey: false,
                follow_up_date_required: true,
                chair_and_secretary_differ: false,
                urgent_within_working_days: 1,
                consent_renewal_notice_days: 30,
            },
            PolicyName::Orebro => PolicyProfile {
                name,
                invitation: InvitationRule::AsSoonAsPossibleAfterDischargeReady { working_days: 1 },
                meeting: MeetingRule::ByTrack {
                    green_yellow_weeks_after_discharge: 4,
                    red: RedTrackRule::BeforeDischarge,
                    outpatient_weeks_after_need_known: 4,
                },
                documentation_days_after_meeting: 3,
                inbox_watch_times: Vec::new(),
                offers_sip_survey: false,
                follow_up_date_required: true,
                chair_and_secretary_differ: false,
                urgent_within_working_days: 1,
                consent_renewal_notice_days: 30,
            },
            PolicyName::Stockholm => PolicyProfile {
                name,
                invitation: InvitationRule::WithoutDelay { working_days: 3 },
                meeting: MeetingRule::NoFixedDeadline,
                documentation_days_after_meeting: 3,
                inbox_watch_times: Vec::new(),
                offers_sip_survey: true,
                follow_up_date_required: true,
                chair_and_secretary_differ: true,
                urgent_within_working_days: 1,
                consent_renewal_notice_days: 30,
            },
        }
    }

    /// Whether a discharge need must name its track: the meeting's deadline is counted by it.
    pub fn discharge_needs_track(&self) -> bool {
        matches!(self.meeting, MeetingRule::ByTrack { .. })
    }

    /// The built-in profile with name `s` (see [`PolicyName::parse`]).
    pub fn by_name(s: &str) -> Result<PolicyProfile, PolicyError> {
        PolicyName::parse(s).map(PolicyProfile::get)
    }

    /// When the invitation must be sent at the latest, given when the need became known and,
    /// for discharge planning, the track and when the discharge-ready notice was sent. On Örebro's
    /// red track the kallelse goes "så fort som möjligt när behovet uppmärksammats"
    /// (`001_981d6886037d185d.txt`), whatever the notice: the meeting is before discharge, so
    /// under every profile the red track's kallelse is due by the recorded discharge at the
    /// latest (an outside review found it due two days after the patient went home).
    pub fn invitation_due(
        &self,
        need_known_at: DateTime<Utc>,
        track: Option<Track>,
        discharge_ready_at: Option<DateTime<Utc>>,
        discharged_at: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        let by_rule = self.invitation_due_by_rule(need_known_at, track, discharge_ready_at);
        match (track, discharged_at) {
            (Some(Track::Red), Some(home)) => by_rule.min(home),
            _ => by_rule,
        }
    }

    /// [`PolicyProfile::invitation_due`] by the profile's own rule alone.
    fn invitation_due_by_rule(
        &self,
        need_known_at: DateTime<Utc>,
        track: Option<Track>,
        discharge_ready_at: Option<DateTime<Utc>>,
    ) -> DateTime<Utc> {
        let (start, working_days) = match self.invitation {
            InvitationRule::WithinWorkingDaysOfNeedKnown { working_days }
            | InvitationRule::WithoutDelay { working_days } => (need_known_at, working_days),
            InvitationRule::AsSoonAsPossibleAfterDischargeReady { working_days } => {
                let start = match discharge_ready_at {
                    Some(ready) if ready > need_known_at && track != Some(Track::Red) => ready,
                    _ => need_known_at,
                };
                (start, working_days)
            }
        };
        end_of_local_day(add_working_days(local_date(start), working_days))
    }

    /// The latest time the meeting must be held, or `None` when the profile has no figure for
    /// this situation: Stockholm; Örebro green/yellow track before the discharge time is known;
    /// Örebro red track before the discharge time is known.
    ///
    /// For the red track the meeting is due at the discharge instant itself ("innan hemgång"),
    /// under every profile: a profile's own figure counts only when it comes earlier (an outside
    /// review had a red-track patient go home days before the to-do's deadline).
    pub fn meeting_due(
        &self,
        need_known_at: DateTime<Utc>,
        track: Option<Track>,
        discharge_ready_at: Option<DateTime<Utc>>,
        discharged_at: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        let by_rule =
            self.meeting_due_by_rule(need_known_at, track, discharge_ready_at, discharged_at);
        match (track, discharged_at) {
            (Some(Track::Red), Some(home)) => Some(by_rule.map_or(home, |due| due.min(home))),
            _ => by_rule,
        }
    }

    /// [`PolicyProfile::meeting_due`] by the profile's own rule alone.
    fn meeting_due_by_rule(
        &self,
        need_known_at: DateTime<Utc>,
        track: Option<Track>,
        discharge_ready_at: Option<DateTime<Utc>>,
        discharged_at: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        // Readiness for discharge does not start any meeting deadline in the seeds.
        let _ = discharge_ready_at;
        match self.meeting {
            MeetingRule::DaysAfterNeedKnown { max_days, .. } => Some(end_of_local_day(
                plus_calendar_days(local_date(need_known_at), max_days),
            )),
            MeetingRule::ByTrack {
                green_yellow_weeks_after_discharge,
                red,
                outpatient_weeks_after_need_known,
            } => match track {
                Some(Track::Green | Track::Yellow) => discharged_at.map(|at| {
                    end_of_local_day(plus_calendar_days(
                        local_date(at),
                        green_yellow_weeks_after_discharge * 7,
                    ))
                }),
                Some(Track::Red) => match red {
                    RedTrackRule::BeforeDischarge => discharged_at,
                },
                None => Some(end_of_local_day(plus_calendar_days(
                    local_date(need_known_at),
                    outpatient_weeks_after_need_known * 7,
                ))),
            },
            MeetingRule::NoFixedDeadline => None,
        }
    }

    /// The earliest Swedish date the meeting should be held, when the profile says so
    /// (Norrbotten: not before 3 days after the need became known, so that everyone can prepare).
    pub fn meeting_not_before(&self, need_known_at: DateTime<Utc>) -> Option<NaiveDate> {
        match self.meeting {
            MeetingRule::DaysAfterNeedKnown { min_days, .. } => {
                Some(plus_calendar_days(local_date(need_known_at), min_days))
            }
            _ => None,
        }
    }

    /// Until when a due time makes a to-do urgent at `now`: the end of the Swedish day
    /// `urgent_within_working_days` working days after today. A to-do due at or before this
    /// (overdue ones included) is urgent.
    pub fn urgent_until(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        end_of_local_day(add_working_days(
            local_date(now),
            self.urgent_within_working_days,
        ))
    }

    /// Whether a to-do due at `due_at` is urgent at `now`.
    pub fn is_urgent(&self, due_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        due_at <= self.urgent_until(now)
    }

    /// When every actor must have documented its sub-goals and interventions: the end of the
    /// Swedish day `documentation_days_after_meeting` calendar days after the meeting.
    pub fn documentation_due(&self, meeting_held_at: DateTime<Utc>) -> DateTime<Utc> {
        end_of_local_day(plus_calendar_days(
            local_date(meeting_held_at),
            self.documentation_days_after_meeting,
        ))
    }
}

/// The deployment-wide profile, overridable per municipality.
#[derive(Debug, Clone)]
pub struct PolicySet {
    pub default: PolicyProfile,
    /// Keyed by municipality, trimmed and lower-cased (see [`PolicySet::with_override`]).
    pub per_municipality: BTreeMap<String, PolicyProfile>,
}

fn municipality_key(m: &str) -> String {
    m.trim().to_lowercase()
}

impl PolicySet {
    /// A set where every municipality uses `default`.
    pub fn new(default: PolicyProfile) -> Self {
        PolicySet {
            default,
            per_municipality: BTreeMap::new(),
        }
    }

    /// Lets `municipality` (name or code; matched case-insensitively, surrounding whitespace
    /// ignored) use `p` instead of the default.
    pub fn with_override(mut self, municipality: &str, p: PolicyProfile) -> Self {
        self.per_municipality
            .insert(municipality_key(municipality), p);
        self
    }

    /// The profile for `municipality`, or the default when it has no override or is unknown.
    pub fn for_municipality(&self, municipality: Option<&str>) -> &PolicyProfile {
        municipality
            .and_then(|m| self.per_municipality.get(&municipality_key(m)))
            .unwrap_or(&self.default)
    }
}
