//! "Spara" and "Skicka" of a kallelse (ADR 0021): the coordinator saves an invitation unsent
//! (`SaveInvitationDraft` → `InvitationDraftSaved`), edits it, and sends it later with
//! `SendInvitation` under the same id. A draft summons nobody: no message, no to-do for a
//! recipient, no participation, and no other unit sees it.

use chrono::Duration;
use domain::obligations::obligations;
use domain::policy::{PolicyName, PolicyProfile};
use domain::sip::messages::messages;
use domain::sip::*;
use domain::DomainError;

use crate::support::*;

fn draft(id: &str, recipients: Vec<Recipient>) -> SipCommand {
    SipCommand::SaveInvitationDraft(SaveInvitationDraft {
        invitation_id: id.to_string(),
        purpose: InvitationPurpose::Meeting,
        scheduled_at: Some(meeting_time()),
        form: MeetingForm::InPerson,
        place: Some("Vårdcentralen, rum 3".to_string()),
        reason: Some("Planera stöd i hemmet".to_string()),
        recipients,
    })
}

fn policy() -> PolicyProfile {
    PolicyProfile::get(PolicyName::Stockholm)
}

#[test]
fn the_coordinator_saves_a_draft_that_summons_nobody() {
    let story = Story::with_basis().advance(Duration::hours(1));
    let before = story.state();
    let (events, after) = given(&story)
        .when(
            draft("inv-1", vec![unit_recipient(HT), Recipient::Person]),
            Who::Nurse.at(story.now),
        )
        .then_ok();
    assert_eq!(types(&events), ["InvitationDraftSaved"]);
    let saved = after.invitation_drafts.get("inv-1").expect("the draft");
    assert_eq!(saved.recipients, [unit_recipient(HT), Recipient::Person]);
    assert!(after.invitations.is_empty(), "nothing was sent");
    assert_eq!(after.phase(), SipPhase::Preparing);
    // Hemtjänsten does not take part through a draft, gets no message and owes nothing.
    assert!(!after.participates(&unit(HT)));
    assert_eq!(after.participants, before.participants);
    assert!(messages(&before, &after, &events[0]).is_empty());
    assert_eq!(
        obligations(&after, &policy()),
        obligations(&before, &policy())
    );
    // Only the coordinator's unit sees it.
    let mine = view_for_unit(&after, &unit(VC), &policy(), story.now);
    assert_eq!(mine.invitation_drafts.len(), 1);
    let theirs = view_for_unit(&after, &unit(HT), &policy(), story.now);
    assert!(theirs.invitation_drafts.is_empty());
    assert!(theirs.invitations.is_empty());
}

#[test]
fn a_draft_may_be_incomplete_edited_and_is_sent_with_skicka() {
    let story = Story::with_basis().advance(Duration::hours(1));
    let empty = SipCommand::SaveInvitationDraft(SaveInvitationDraft {
        invitation_id: "inv-1".to_string(),
        purpose: InvitationPurpose::Meeting,
        scheduled_at: None,
        form: MeetingForm::Video,
        place: None,
        reason: None,
        recipients: Vec::new(),
    });
    let story = story.run(Who::Nurse, empty);
    // Sending it incomplete is refused by the rules of sending.
    let mut bare = invite("inv-1", meeting_time(), Vec::new());
    if let SipCommand::SendInvitation(c) = &mut bare {
        c.reason = String::new();
    }
    given(&story)
        .when(bare, Who::Nurse.at(story.now))
        .then_code("field_missing");
    // Edited: the later save replaces the earlier.
    let story = story.run(Who::Nurse, draft("inv-1", vec![unit_recipient(HT)]));
    let state = story.state();
    assert_eq!(state.invitation_drafts.len(), 1);
    assert_eq!(
        state.invitation_drafts["inv-1"].form,
        MeetingForm::InPerson,
        "the second save replaced the first"
    );
    // "Skicka": sent under the same id, the draft is gone and hemtjänsten is summoned.
    let before = story.state();
    let story = story.run(
        Who::Nurse,
        invite("inv-1", meeting_time(), vec![unit_recipient(HT)]),
    );
    let after = story.state();
    assert!(after.invitation_drafts.is_empty());
    assert!(after.invitations.contains_key("inv-1"));
    assert!(after.participates(&unit(HT)));
    let sent = messages(&before, &after, story.events.last().expect("sent"));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, unit(HT));
    // A sent invitation cannot become a draft again.
    given(&story)
        .when(draft("inv-1", vec![]), Who::Nurse.at(story.now))
        .then_error(DomainError::IdAlreadyUsed("inv-1".to_string()));
}

#[test]
fn only_the_coordinator_saves_a_draft_and_what_it_names_must_exist() {
    let story = Story::with_basis();
    let ok = || draft("inv-1", vec![unit_recipient(HT)]);
    given(&story)
        .when(ok(), Who::Colleague.at(story.now))
        .then_error(DomainError::NotCoordinator);
    given(&story)
        .when(ok(), Who::HomeCare.at(story.now))
        .then_error(DomainError::NotCoordinator);
    given(&Story::consented())
        .when(ok(), Who::Nurse.at(t0()))
        .then_error(DomainError::PlanBasisMissing);
    given(&story)
        .when(
            draft("inv-1", vec![unit_recipient("ingen-sadan-enhet")]),
            Who::Nurse.at(story.now),
        )
        .then_error(DomainError::UnknownUnit(unit("ingen-sadan-enhet")));
    given(&story)
        .when(
            draft(
                "inv-1",
                vec![Recipient::Relative {
                    relative_id: "okand".to_string(),
                }],
            ),
            Who::Nurse.at(story.now),
        )
        .then_error(DomainError::UnknownRelative("okand".to_string()));
    given(&Story::closed())
        .when(ok(), Who::Nurse.at(story.now))
        .then_error(DomainError::PlanClosed);
}
