//! The demo's plans, one function per plan, each written in the order staff would work, with the
//! JSON bodies a client would send.

use super::data::*;
use super::Loader;
use crate::commands::sips::dto;
use crate::error::AppError;
use serde_json::{json, Value};

/// The invitation of a meeting to `recipients`, `days` from today.
fn invitation(
    l: &Loader,
    id: &str,
    days: i64,
    place: &str,
    reason: &str,
    recipients: Value,
) -> Value {
    json!({
        "invitation_id": id,
        "purpose": "meeting",
        "scheduled_at": l.at(days, 13, 0),
        "form": if place.is_empty() { "video" } else { "in_person" },
        "place": if place.is_empty() { Value::Null } else { json!(place) },
        "reason": reason,
        "recipients": recipients,
    })
}

fn consent(l: &Loader, actors: &[&str], topics: &[&str]) -> Value {
    json!({
        "given_by": {"kind": "person"},
        "actors": actors,
        "topics": topics,
        "valid_until": l.day(365),
    })
}

/// Plan 8: a need noticed yesterday; consent not yet asked.
pub(super) async fn plan_need_identified(l: &Loader) -> Result<(), AppError> {
    l.when(-1, 10, 15);
    l.start(HC_LULEA, 8, 8, json!({
        "person_id": "", "identified_by": "relative",
        "reason": "Gunnel har fallit flera gånger i hemmet. God man och hemtjänsten behöver samordna stöd och rehabilitering med hälsocentralen.",
        "known_since": l.at(-1, 9, 0),
        "context": {"kind": "outpatient"},
    })).await
}

/// Plan 9: consent given to the hälsocentral, socialtjänsten and Försäkringskassan.
pub(super) async fn plan_consent_given(l: &Loader) -> Result<(), AppError> {
    l.when(-4, 11, 0);
    l.start(HC_LULEA, 9, 9, json!({
        "person_id": "", "identified_by": "staff",
        "reason": "Långvarig smärta och sjukskrivning; behöver samordning kring ekonomi, arbete och vård.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-3, 10, 0);
    l.sip::<dto::RecordConsentRequest>(
        HC_LULEA,
        9,
        "consent",
        consent(
            l,
            &[HC_LULEA, SOC_LULEA, FK_LULEA],
            &["Fysisk hälsa", "Ekonomi", "Arbete och sysselsättning"],
        ),
    )
    .await
}

/// Plan 10: plan basis created, mapping begun.
pub(super) async fn plan_basis_created(l: &Loader) -> Result<(), AppError> {
    l.when(-8, 9, 30);
    l.start(HC_LULEA, 10, 10, json!({
        "person_id": "", "identified_by": "person",
        "reason": "Ingrid vill klara sig hemma efter sin stroke och behöver stöd från både hälsocentral och hemtjänst.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-7, 10, 0);
    l.sip::<dto::RecordConsentRequest>(
        HC_LULEA,
        10,
        "consent",
        consent(
            l,
            &[HC_LULEA, HT_LULEA],
            &["Fysisk hälsa", "Hem och vardag"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(HC_LULEA, 10, "basis", json!({
        "initiated_by": "Hälsocentralen Centrum",
        "fixed_care_contacts": [{"name": staff_name(HC_LULEA), "unit_id": HC_LULEA, "phone": "0920-28 40 00"}],
    })).await?;
    l.when(-6, 14, 0);
    l.sip::<dto::DocumentMappingRequest>(HC_LULEA, 10, "mapping-1", json!({
        "mapping_id": "kartl-hem", "heading": "daily_living",
        "text": "Klarar av- och påklädning själv men inte matlagning. Dottern handlar en gång i veckan.",
    })).await
}

/// Plan 7: the person declined consent; no SIP can be held.
pub(super) async fn plan_consent_declined(l: &Loader) -> Result<(), AppError> {
    l.when(-7, 13, 0);
    l.start(
        HC_BODEN,
        7,
        7,
        json!({
            "person_id": "", "identified_by": "staff",
            "reason": "Alkoholproblem och bostadslöshet; insatser från flera verksamheter behövs.",
            "context": {"kind": "outpatient"},
        }),
    )
    .await?;
    l.when(-6, 10, 30);
    l.sip::<dto::DeclineConsentRequest>(HC_BODEN, 7, "decline", json!({
        "declined_by": {"kind": "person"},
        "note": "Vill inte att uppgifter delas med socialtjänsten just nu. Dokumenterat i journalen.",
    })).await
}

/// Plan 1: discharge from the ward on the yellow track; the invitation is out, the meeting in
/// three days (video); hemtjänsten has appointed its representative.
pub(super) async fn plan_invited(l: &Loader) -> Result<(), AppError> {
    l.when(-3, 9, 30);
    l.start(AVD_61, 1, 1, json!({
        "person_id": "", "identified_by": "staff",
        "reason": "Utskrivningsklar efter höftfraktur; behöver hemtjänst och uppföljning av hälsocentralen.",
        "known_since": l.at(-3, 9, 0),
        "context": {"kind": "discharge", "track": "yellow", "discharge_ready_at": l.at(-3, 9, 0)},
    })).await?;
    l.when(-3, 11, 0);
    // The person agreed that their daughter may be invited too (001).
    let mut agreed = consent(
        l,
        &[AVD_61, HC_LULEA, HT_LULEA],
        &[
            "Fysisk hälsa",
            "Förflyttning och hjälpmedel",
            "Hem och vardag",
        ],
    );
    agreed["relatives"] = json!(["dotter"]);
    l.sip::<dto::RecordConsentRequest>(AVD_61, 1, "consent", agreed)
        .await?;
    l.when(-2, 9, 0);
    l.sip::<dto::CreatePlanBasisRequest>(
        HC_LULEA,
        1,
        "basis",
        json!({
            "initiated_by": "Vårdavdelning 61, Sunderby sjukhus",
            "fixed_care_contacts": [{"name": staff_name(HC_LULEA), "unit_id": HC_LULEA}],
        }),
    )
    .await?;
    l.sip::<dto::DocumentMappingRequest>(HC_LULEA, 1, "mapping-1", json!({
        "mapping_id": "kartl-rorlighet", "heading": "mobility",
        "text": "Går med rollator inomhus, behöver hjälp i trappor. Bor i lägenhet på andra våningen utan hiss.",
    })).await?;
    l.when(-2, 10, 0);
    l.sip::<dto::SendInvitationRequest>(
        HC_LULEA,
        1,
        "invite-1",
        invitation(
            l,
            "kallelse-1",
            3,
            "",
            "SIP-möte inför hemgång: hemtjänst, rehabilitering och uppföljning.",
            json!([{"kind": "unit", "unit_id": AVD_61}, {"kind": "unit", "unit_id": HT_LULEA},
               {"kind": "person"}, {"kind": "relative", "relative_id": "dotter"}]),
        ),
    )
    .await?;
    l.when(-1, 8, 30);
    l.sip::<dto::RespondToInvitationRequest>(HT_LULEA, 1, "respond-ht", json!({
        "invitation_id": "kallelse-1",
        "representative": {"name": staff_name(HT_LULEA), "staff_id": "SE2120000001-DHT1", "profession": "biståndshandläggare"},
    })).await
}

/// Plan 3: a child in Boden; both guardians consented, the meeting was held five days ago.
pub(super) async fn plan_meeting_held(l: &Loader) -> Result<(), AppError> {
    l.when(-16, 10, 0);
    l.start(SOC_BODEN, 3, 3, json!({
        "person_id": "", "identified_by": "relative",
        "reason": "Elsa har hög skolfrånvaro och oro i hemmet; vårdnadshavarna vill ha samordnat stöd.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-15, 9, 0);
    for (key, guardian) in [("consent-mamma", "vh-mamma"), ("consent-pappa", "vh-pappa")] {
        l.sip::<dto::RecordConsentRequest>(
            SOC_BODEN,
            3,
            key,
            json!({
                "given_by": {"kind": "guardian", "relative_id": guardian},
                "actors": [SOC_BODEN, HC_BODEN],
                "topics": ["Skola och utbildning", "Psykisk hälsa", "Relationer och nätverk"],
                "valid_until": l.day(365),
            }),
        )
        .await?;
    }
    l.sip::<dto::CreatePlanBasisRequest>(
        SOC_BODEN,
        3,
        "basis",
        json!({"initiated_by": "Vårdnadshavarna"}),
    )
    .await?;
    l.when(-14, 13, 0);
    l.sip::<dto::DocumentMappingRequest>(
        SOC_BODEN,
        3,
        "mapping-1",
        json!({
            "mapping_id": "kartl-skola", "heading": "education",
            "text": "Frånvaro omkring 40 procent senaste terminen. Trivs med sin mentor.",
        }),
    )
    .await?;
    l.sip::<dto::SendInvitationRequest>(SOC_BODEN, 3, "invite-1", invitation(
        l, "kallelse-1", -5, "Socialtjänsten Boden, mötesrum Älven",
        "SIP-möte om stöd i skolan och hemma.",
        json!([{"kind": "unit", "unit_id": HC_BODEN}, {"kind": "person"},
               {"kind": "relative", "relative_id": "vh-mamma"}, {"kind": "relative", "relative_id": "vh-pappa"}]),
    )).await?;
    l.when(-13, 9, 0);
    l.sip::<dto::RespondToInvitationRequest>(
        HC_BODEN,
        3,
        "respond-hc",
        json!({
            "invitation_id": "kallelse-1",
            "representative": {"name": staff_name(HC_BODEN), "staff_id": "SE2321000016-DHB1"},
        }),
    )
    .await?;
    l.when(-5, 15, 30);
    l.sip::<dto::RecordMeetingRequest>(
        SOC_BODEN,
        3,
        "meeting",
        json!({
            "invitation_id": "kallelse-1",
            "held_at": l.at(-5, 13, 0),
            "attendees": [
                {"name": "Elsa Berg", "role": "person"},
                {"name": "Maria Berg", "role": "relative"},
                {"name": "Johan Berg", "role": "relative"},
                {"name": staff_name(HC_BODEN), "role": "staff", "unit_id": HC_BODEN},
                {"name": staff_name(SOC_BODEN), "role": "staff", "unit_id": SOC_BODEN},
            ],
            "chair": staff_name(SOC_BODEN),
            "secretary": staff_name(HC_BODEN),
            "follow_up_on": l.day(85),
            "sip_survey_offered": true,
        }),
    )
    .await?;
    // Socialtjänsten writes and publishes the main goal and its own part; the hälsocentral's
    // sub-goal is still a draft, which neither Elsa's guardians nor anyone else sees.
    l.when(-4, 10, 0);
    l.sip::<dto::DocumentMainGoalRequest>(
        SOC_BODEN,
        3,
        "main-goal",
        json!({"text": "Elsa vill trivas och gå i skolan varje dag."}),
    )
    .await?;
    l.sip::<dto::DocumentSubGoalRequest>(
        SOC_BODEN,
        3,
        "sub-goal-soc",
        json!({
            "sub_goal_id": "delmal-skola", "heading": "education",
            "text": "Närvaro i skolan minst fyra dagar i veckan före sommarlovet.",
            "responsible": {"kind": "unit", "unit_id": SOC_BODEN},
        }),
    )
    .await?;
    l.sip::<dto::DocumentInterventionRequest>(SOC_BODEN, 3, "intervention-soc", json!({
        "intervention_id": "insats-skola", "sub_goal_id": "delmal-skola",
        "what": "Familjebehandlare träffar Elsa och vårdnadshavarna varje vecka.",
        "responsible": {"kind": "unit", "unit_id": SOC_BODEN}, "performer": staff_name(SOC_BODEN),
        "contact": spec(SOC_BODEN)?.phone, "from": l.day(-1),
    })).await?;
    l.sip::<dto::PublishContributionRequest>(SOC_BODEN, 3, "publish-soc", json!({}))
        .await?;
    l.sip::<dto::DocumentSubGoalRequest>(
        HC_BODEN,
        3,
        "sub-goal-hc",
        json!({
            "sub_goal_id": "delmal-somn", "heading": "mental_health",
            "text": "Bättre sömn (utkast, ej delat).",
            "responsible": {"kind": "unit", "unit_id": HC_BODEN},
        }),
    )
    .await
}

/// The meeting, goals, interventions and publishing of a plan coordinated by `coord` with one
/// other unit `other`; used by the older plans.
#[allow(clippy::too_many_arguments)]
pub(super) async fn held_and_documented(
    l: &Loader,
    plan: u8,
    coord: &str,
    other: &str,
    meeting_day: i64,
    follow_up_day: i64,
    texts: [&str; 5],
) -> Result<(), AppError> {
    let [main_goal, coord_goal, coord_intervention, other_goal, other_intervention] = texts;
    l.when(meeting_day - 9, 10, 0);
    l.sip::<dto::SendInvitationRequest>(
        coord,
        plan,
        "invite-1",
        invitation(
            l,
            "kallelse-1",
            meeting_day,
            "Hälsocentralen, konferensrummet",
            "SIP-möte: gemensam planering.",
            json!([{"kind": "unit", "unit_id": other}, {"kind": "person"}]),
        ),
    )
    .await?;
    l.when(meeting_day - 8, 9, 0);
    l.sip::<dto::RespondToInvitationRequest>(
        other,
        plan,
        "respond",
        json!({
            "invitation_id": "kallelse-1", "representative": {"name": staff_name(other)},
        }),
    )
    .await?;
    l.when(meeting_day, 15, 0);
    l.sip::<dto::RecordMeetingRequest>(
        coord,
        plan,
        "meeting",
        json!({
            "invitation_id": "kallelse-1",
            "held_at": l.at(meeting_day, 13, 0),
            "attendees": [
                {"name": "den enskilde", "role": "person"},
                {"name": staff_name(coord), "role": "staff", "unit_id": coord},
                {"name": staff_name(other), "role": "staff", "unit_id": other},
            ],
            "chair": staff_name(coord),
            "secretary": staff_name(other),
            "follow_up_on": l.day(follow_up_day),
            "sip_survey_offered": true,
        }),
    )
    .await?;
    l.when(meeting_day + 1, 10, 0);
    l.sip::<dto::DocumentMainGoalRequest>(coord, plan, "main-goal", json!({"text": main_goal}))
        .await?;
    for (unit, goal, intervention, heading) in [
        (coord, coord_goal, coord_intervention, "physical_health"),
        (other, other_goal, other_intervention, "daily_living"),
    ] {
        let sg = format!("delmal-{unit}");
        l.sip::<dto::DocumentSubGoalRequest>(
            unit,
            plan,
            &format!("sub-goal-{unit}"),
            json!({
                "sub_goal_id": sg, "heading": heading, "text": goal,
                "responsible": {"kind": "unit", "unit_id": unit},
            }),
        )
        .await?;
        l.sip::<dto::DocumentInterventionRequest>(unit, plan, &format!("intervention-{unit}"), json!({
            "intervention_id": format!("insats-{unit}"), "sub_goal_id": sg, "what": intervention,
            "responsible": {"kind": "unit", "unit_id": unit}, "performer": staff_name(unit),
            "contact": spec(unit)?.phone, "from": l.day(meeting_day + 3),
        })).await?;
        l.sip::<dto::PublishContributionRequest>(unit, plan, &format!("publish-{unit}"), json!({}))
            .await?;
    }
    l.sip::<dto::ScheduleFollowUpRequest>(
        coord,
        plan,
        "schedule-follow-up",
        json!({
            "follow_up_on": l.day(follow_up_day),
        }),
    )
    .await
}

/// Plan 5: held, followed up and closed with its goals met.
pub(super) async fn plan_closed(l: &Loader) -> Result<(), AppError> {
    l.when(-160, 10, 0);
    l.start(
        HC_BODEN,
        5,
        5,
        json!({
            "person_id": "", "identified_by": "staff",
            "reason": "KOL och nedsatt ork; behöver hemtjänst och samordnad uppföljning.",
            "context": {"kind": "outpatient"},
        }),
    )
    .await?;
    l.when(-159, 9, 0);
    l.sip::<dto::RecordConsentRequest>(
        HC_BODEN,
        5,
        "consent",
        consent(
            l,
            &[HC_BODEN, HT_BODEN],
            &["Fysisk hälsa", "Hem och vardag"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(HC_BODEN, 5, "basis", json!({}))
        .await?;
    held_and_documented(
        l,
        5,
        HC_BODEN,
        HT_BODEN,
        -150,
        -60,
        [
            "Jag vill orka gå till affären själv.",
            "Bättre andning i vardagen.",
            "Inhalationsbehandling och andningsgymnastik, uppföljning var tredje månad.",
            "Trygg hemmiljö med stöd vid dusch.",
            "Hemtjänst två gånger i veckan för dusch och städning.",
        ],
    )
    .await?;
    l.when(-60, 14, 0);
    l.sip::<dto::RecordFollowUpRequest>(
        HC_BODEN,
        5,
        "follow-up-1",
        json!({
            "follow_up_id": "uppfoljning-1", "held_on": l.day(-60),
            "interventions": [
                {"intervention_id": format!("insats-{HC_BODEN}"), "outcome": "completed"},
                {"intervention_id": format!("insats-{HT_BODEN}"), "outcome": "completed"},
            ],
            "goals": [
                {"reached": true},
                {"sub_goal_id": format!("delmal-{HC_BODEN}"), "reached": true},
                {"sub_goal_id": format!("delmal-{HT_BODEN}"), "reached": true},
            ],
            "note": "Lars klarar sig nu med ordinarie hemtjänstinsatser.",
        }),
    )
    .await?;
    l.when(-59, 9, 0);
    l.sip::<dto::ClosePlanRequest>(
        HC_BODEN,
        5,
        "close",
        json!({
            "reason": "goals_met", "note": "Målen uppnådda vid uppföljningen.",
        }),
    )
    .await
}

/// Plan 4: followed up once; continues with the next follow-up booked.
pub(super) async fn plan_followed_up(l: &Loader) -> Result<(), AppError> {
    l.when(-110, 10, 0);
    l.start(
        HC_LULEA,
        4,
        4,
        json!({
            "person_id": "", "identified_by": "staff",
            "reason": "Diabetes och depression; svårt att klara vardagen utan stöd.",
            "context": {"kind": "outpatient"},
        }),
    )
    .await?;
    l.when(-109, 9, 0);
    l.sip::<dto::RecordConsentRequest>(
        HC_LULEA,
        4,
        "consent",
        consent(
            l,
            &[HC_LULEA, HT_LULEA],
            &["Fysisk hälsa", "Psykisk hälsa", "Hem och vardag"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(HC_LULEA, 4, "basis", json!({}))
        .await?;
    held_and_documented(
        l,
        4,
        HC_LULEA,
        HT_LULEA,
        -98,
        -30,
        [
            "Jag vill kunna laga min egen mat och träffa vänner.",
            "Stabilt blodsocker.",
            "Diabetessköterska varje månad och översyn av läkemedel.",
            "Klara matlagning med stöd.",
            "Hemtjänst stöttar vid matlagning tre dagar i veckan.",
        ],
    )
    .await?;
    l.when(-30, 14, 0);
    l.sip::<dto::RecordFollowUpRequest>(HC_LULEA, 4, "follow-up-1", json!({
        "follow_up_id": "uppfoljning-1", "held_on": l.day(-30),
        "interventions": [
            {"intervention_id": format!("insats-{HC_LULEA}"), "outcome": "continues"},
            {"intervention_id": format!("insats-{HT_LULEA}"), "outcome": "changed", "comment": "Minskas till två dagar i veckan."},
        ],
        "goals": [{"reached": false}, {"sub_goal_id": format!("delmal-{HT_LULEA}"), "reached": true}],
        "next_follow_up_on": l.day(60),
    })).await
}

/// Plan 6: held, then the person withdrew consent; the coordinator must close it.
pub(super) async fn plan_consent_withdrawn(l: &Loader) -> Result<(), AppError> {
    l.when(-45, 10, 0);
    l.start(SOC_LULEA, 6, 6, json!({
        "person_id": "", "identified_by": "staff",
        "reason": "Missbruk och psykisk ohälsa; behöver samordnade insatser från socialtjänst och psykiatri.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-44, 9, 0);
    l.sip::<dto::RecordConsentRequest>(
        SOC_LULEA,
        6,
        "consent",
        consent(
            l,
            &[SOC_LULEA, PSYK_LULEA],
            &["Alkohol, narkotika och spel", "Psykisk hälsa", "Boende"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(SOC_LULEA, 6, "basis", json!({}))
        .await?;
    l.when(-43, 10, 0);
    l.sip::<dto::SendInvitationRequest>(
        SOC_LULEA,
        6,
        "invite-1",
        invitation(
            l,
            "kallelse-1",
            -35,
            "Socialtjänsten Luleå, rum 2",
            "SIP-möte om behandling och boende.",
            json!([{"kind": "unit", "unit_id": PSYK_LULEA}, {"kind": "person"}]),
        ),
    )
    .await?;
    l.when(-35, 15, 0);
    l.sip::<dto::RecordMeetingRequest>(
        SOC_LULEA,
        6,
        "meeting",
        json!({
            "invitation_id": "kallelse-1",
            "held_at": l.at(-35, 13, 0),
            "attendees": [
                {"name": "Sofia Åberg", "role": "person"},
                {"name": staff_name(PSYK_LULEA), "role": "staff", "unit_id": PSYK_LULEA},
                {"name": staff_name(SOC_LULEA), "role": "staff", "unit_id": SOC_LULEA},
            ],
            "chair": staff_name(SOC_LULEA),
            "secretary": staff_name(PSYK_LULEA),
            "follow_up_on": l.day(55),
        }),
    )
    .await?;
    l.sip::<dto::DocumentMainGoalRequest>(
        SOC_LULEA,
        6,
        "main-goal",
        json!({
            "text": "Jag vill ha ett eget boende och en fungerande vardag.",
        }),
    )
    .await?;
    l.when(-6, 11, 0);
    l.sip::<dto::WithdrawConsentRequest>(
        SOC_LULEA,
        6,
        "withdraw",
        json!({
            "withdrawn_by": {"kind": "person"},
            "note": "Vill inte längre att uppgifter delas mellan verksamheterna.",
        }),
    )
    .await
}

/// Plan 2: psykiatrin coordinates with socialtjänsten and Försäkringskassan (reached by
/// letter, documented for by the coordinator); everything documented and published.
pub(super) async fn plan_published(l: &Loader) -> Result<(), AppError> {
    l.when(-25, 10, 0);
    l.start(PSYK_LULEA, 2, 2, json!({
        "person_id": "", "identified_by": "staff",
        "reason": "Återkommande depression, skulder och lång sjukskrivning; behöver samordning mellan psykiatri, socialtjänst och Försäkringskassan.",
        "context": {"kind": "outpatient"},
    })).await?;
    l.when(-24, 9, 0);
    l.sip::<dto::RecordConsentRequest>(
        PSYK_LULEA,
        2,
        "consent",
        consent(
            l,
            &[PSYK_LULEA, SOC_LULEA, FK_LULEA],
            &["Psykisk hälsa", "Ekonomi", "Arbete och sysselsättning"],
        ),
    )
    .await?;
    l.sip::<dto::CreatePlanBasisRequest>(PSYK_LULEA, 2, "basis", json!({
        "fixed_care_contacts": [{"name": staff_name(PSYK_LULEA), "unit_id": PSYK_LULEA, "phone": "0920-28 45 00"}],
    })).await?;
    l.when(-23, 10, 0);
    l.sip::<dto::DocumentMappingRequest>(
        PSYK_LULEA,
        2,
        "mapping-1",
        json!({
            "mapping_id": "kartl-ekonomi", "heading": "finances",
            "text": "Skulder hos Kronofogden; ingen budget. Vill ha hjälp att få ordning.",
        }),
    )
    .await?;
    l.sip::<dto::SendInvitationRequest>(PSYK_LULEA, 2, "invite-1", invitation(
        l, "kallelse-1", -12, "Psykiatriska mottagningen Luleå, rum 12",
        "SIP-möte om behandling, ekonomi och väg tillbaka till arbete.",
        json!([{"kind": "unit", "unit_id": SOC_LULEA}, {"kind": "unit", "unit_id": FK_LULEA}, {"kind": "person"}]),
    )).await?;
    l.when(-22, 9, 0);
    l.sip::<dto::RespondToInvitationRequest>(SOC_LULEA, 2, "respond-soc", json!({
        "invitation_id": "kallelse-1",
        "representative": {"name": staff_name(SOC_LULEA), "staff_id": "SE2120000001-DSV1", "profession": "socialsekreterare"},
    })).await?;
    l.when(-12, 15, 0);
    l.sip::<dto::RecordMeetingRequest>(
        PSYK_LULEA,
        2,
        "meeting",
        json!({
            "invitation_id": "kallelse-1",
            "held_at": l.at(-12, 13, 0),
            "attendees": [
                {"name": "Erik Lindqvist", "role": "person"},
                {"name": staff_name(PSYK_LULEA), "role": "staff", "unit_id": PSYK_LULEA},
                {"name": staff_name(SOC_LULEA), "role": "staff", "unit_id": SOC_LULEA},
                {"name": "Handläggare, Försäkringskassan", "role": "other", "unit_id": FK_LULEA},
            ],
            "chair": staff_name(PSYK_LULEA),
            "secretary": staff_name(SOC_LULEA),
            "follow_up_on": l.day(78),
            "sip_survey_offered": true,
        }),
    )
    .await?;
    l.when(-11, 10, 0);
    l.sip::<dto::DocumentMainGoalRequest>(PSYK_LULEA, 2, "main-goal", json!({
        "text": "Jag vill må bättre, ha koll på min ekonomi och börja arbeta några timmar i veckan.",
    })).await?;
    // Psykiatrin documents its own part, and Försäkringskassan's (no samplan) and the person's.
    for (key, sg, heading, text, responsible, intervention, performer, contact) in [
        (
            "psyk",
            "delmal-psyk",
            "mental_health",
            "Färre och kortare perioder av nedstämdhet.",
            json!({"kind": "unit", "unit_id": PSYK_LULEA}),
            "Samtalsbehandling (KBT) varannan vecka.",
            staff_name(PSYK_LULEA),
            "0920-28 45 00",
        ),
        (
            "fk",
            "delmal-fk",
            "occupation",
            "Arbetsträning på deltid inom ett halvår.",
            json!({"kind": "unit", "unit_id": FK_LULEA}),
            "Samordning av arbetslivsinriktad rehabilitering.",
            "Handläggare, Försäkringskassan".to_owned(),
            "0771-524 524",
        ),
        (
            "egen",
            "delmal-egen",
            "self_care",
            "Promenad tre gånger i veckan.",
            json!({"kind": "person"}),
            "Promenerar med en vän måndag, onsdag och fredag.",
            "Erik själv".to_owned(),
            "070-123 02 02",
        ),
    ] {
        l.sip::<dto::DocumentSubGoalRequest>(PSYK_LULEA, 2, &format!("sub-goal-{key}"), json!({
            "sub_goal_id": sg, "heading": heading, "text": text, "responsible": responsible.clone(),
        })).await?;
        l.sip::<dto::DocumentInterventionRequest>(
            PSYK_LULEA,
            2,
            &format!("intervention-{key}"),
            json!({
                "intervention_id": format!("insats-{key}"), "sub_goal_id": sg, "what": intervention,
                "responsible": responsible, "performer": performer, "contact": contact,
                "from": l.day(-9), "to": l.day(170),
            }),
        )
        .await?;
    }
    l.when(-10, 11, 0);
    l.sip::<dto::DocumentSubGoalRequest>(SOC_LULEA, 2, "sub-goal-soc", json!({
        "sub_goal_id": "delmal-soc", "heading": "finances", "text": "Räkningarna betalas i tid.",
        "responsible": {"kind": "unit", "unit_id": SOC_LULEA},
    })).await?;
    l.sip::<dto::DocumentInterventionRequest>(SOC_LULEA, 2, "intervention-soc", json!({
        "intervention_id": "insats-soc", "sub_goal_id": "delmal-soc",
        "what": "Budget- och skuldrådgivning, ansökan om skuldsanering.",
        "responsible": {"kind": "unit", "unit_id": SOC_LULEA}, "performer": staff_name(SOC_LULEA),
        "contact": "0920-45 31 00", "from": l.day(-8),
    })).await?;
    l.sip::<dto::PublishContributionRequest>(PSYK_LULEA, 2, "publish-psyk", json!({}))
        .await?;
    l.when(-9, 9, 0);
    l.sip::<dto::PublishContributionRequest>(SOC_LULEA, 2, "publish-soc", json!({}))
        .await
}
