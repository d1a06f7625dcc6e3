//! Folding SIP events into state. Total: any event sequence folds without panicking, because
//! stored history is never rejected (it already happened).

use super::event::SipEvent;
use super::state::*;
use super::types::*;
use crate::context::StaffRef;
use crate::ids::UnitId;

/// The units that take part in the plan from `ev` on (participation never shrinks): the unit of
/// whoever recorded it, a coordinator's unit, invited units, units that attended a meeting, and
/// units made responsible for a sub-goal or an intervention. `evolve` and the read models that
/// track participation over time (the auditors' access review) use this one list.
pub fn units_joining(ev: &SipEvent) -> Vec<&UnitId> {
    let mut units = units_acting(ev);
    match ev {
        SipEvent::SubGoalDocumented { responsible, .. }
        | SipEvent::InterventionDocumented { responsible, .. } => {
            units.extend(responsible_unit(responsible));
        }
        _ => {}
    }
    units
}

/// [`units_joining`] but for units only named responsible in a sub-goal or an intervention,
/// which may be a draft: the units that join by what is done in the open.
fn units_acting(ev: &SipEvent) -> Vec<&UnitId> {
    let (by, _) = ev.recorded();
    let mut units = vec![&by.unit_id];
    match ev {
        SipEvent::PlanBasisCreated { coordinator, .. }
        | SipEvent::CoordinatorChanged { coordinator, .. } => units.push(&coordinator.unit_id),
        SipEvent::InvitationSent { recipients, .. } => {
            units.extend(recipients.iter().filter_map(|r| match &r.recipient {
                Recipient::Unit { unit_id } => Some(unit_id),
                _ => None,
            }));
        }
        SipEvent::MeetingHeld {
            attendees,
            coordinator,
            ..
        } => {
            units.extend(attendees.iter().filter_map(|a| a.unit_id.as_ref()));
            units.push(&coordinator.unit_id);
        }
        _ => {}
    }
    units
}

fn responsible_unit(r: &Responsible) -> Option<&UnitId> {
    match r {
        Responsible::Unit { unit_id } => Some(unit_id),
        Responsible::Person => None,
    }
}

fn draft<T>(slot: &mut Option<Drafted<T>>, author: &StaffRef, value: T) {
    match slot {
        Some(d) => {
            d.author_unit = author.unit_id.clone();
            d.draft = Some(value);
        }
        None => {
            *slot = Some(Drafted {
                author_unit: author.unit_id.clone(),
                draft: Some(value),
                published: None,
                published_at: None,
            })
        }
    }
}

fn publish<T>(d: &mut Drafted<T>, at: chrono::DateTime<chrono::Utc>) -> bool {
    match d.draft.take() {
        Some(v) => {
            d.published = Some(v);
            d.published_at = Some(at);
            true
        }
        None => false,
    }
}

/// Folds one event into the plan.
pub fn evolve(mut state: SipState, ev: &SipEvent) -> SipState {
    let (by, at) = ev.recorded();
    let by = by.clone();
    state
        .participants
        .extend(units_joining(ev).into_iter().cloned());
    state.acting.extend(units_acting(ev).into_iter().cloned());
    match ev {
        SipEvent::NeedIdentified {
            sip_id,
            person_id,
            identified_by,
            reason,
            known_since,
            context,
            ..
        } => {
            state.sip_id = Some(*sip_id);
            state.person_id = Some(*person_id);
            state.need = Some(Need {
                identified_by: *identified_by,
                reason: reason.clone(),
                known_since: *known_since,
                context: context.clone(),
                recorded_by: by,
                recorded_at: at,
            });
        }
        SipEvent::ConsentGiven {
            given_by,
            actors,
            topics,
            valid_until,
            guardians_required,
            relatives,
            ..
        } => {
            state.consents.push(Consent {
                given_by: given_by.clone(),
                actors: actors.clone(),
                topics: topics.clone(),
                valid_until: *valid_until,
                relatives: relatives.clone(),
                recorded_by: by,
                recorded_at: at,
            });
            state.guardians_required = guardians_required.clone();
            state.consent_declined = None;
        }
        SipEvent::ConsentDeclined {
            declined_by, note, ..
        } => {
            state.consent_declined = Some(ConsentRefusal {
                by: declined_by.clone(),
                note: note.clone(),
                recorded_by: by,
                recorded_at: at,
            })
        }
        SipEvent::ConsentWithdrawn {
            withdrawn_by, note, ..
        } => {
            state.consent_withdrawn = Some(ConsentRefusal {
                by: withdrawn_by.clone(),
                note: note.clone(),
                recorded_by: by,
                recorded_at: at,
            })
        }
        SipEvent::PlanBasisCreated {
            coordinator,
            initiated_by,
            fixed_care_contacts,
            ..
        } => {
            state.coordinator = Some(coordinator.clone());
            state.basis = Some(PlanBasis {
                initiated_by: initiated_by.clone(),
                fixed_care_contacts: fixed_care_contacts.clone(),
                created_by: by,
                created_at: at,
            });
        }
        SipEvent::CoordinatorChanged {
            previous,
            coordinator,
            ..
        } => {
            state.former_coordinators.push(previous.clone());
            state.coordinator = Some(coordinator.clone());
        }
        SipEvent::MappingDocumented {
            mapping_id,
            heading,
            text,
            ..
        } => {
            state.mappings.insert(
                mapping_id.clone(),
                Mapping {
                    heading: *heading,
                    text: text.clone(),
                    recorded_by: by,
                    recorded_at: at,
                },
            );
        }
        SipEvent::InvitationSent {
            invitation_id,
            purpose,
            scheduled_at,
            form,
            place,
            reason,
            recipients,
            ..
        } => {
            state.invitation_drafts.remove(invitation_id);
            state.invitations.insert(
                invitation_id.clone(),
                Invitation {
                    invitation_id: invitation_id.clone(),
                    purpose: *purpose,
                    scheduled_at: *scheduled_at,
                    form: *form,
                    place: place.clone(),
                    reason: reason.clone(),
                    recipients: recipients.clone(),
                    sent_by: by,
                    sent_at: at,
                    representatives: Default::default(),
                    rescheduled: 0,
                    rescheduled_at: None,
                    cancelled: None,
                    held: false,
                    letters: Vec::new(),
                },
            );
        }
        SipEvent::InvitationDraftSaved {
            invitation_id,
            purpose,
            scheduled_at,
            form,
            place,
            reason,
            recipients,
            ..
        } => {
            state.invitation_drafts.insert(
                invitation_id.clone(),
                InvitationDraft {
                    invitation_id: invitation_id.clone(),
                    purpose: *purpose,
                    scheduled_at: *scheduled_at,
                    form: *form,
                    place: place.clone(),
                    reason: reason.clone(),
                    recipients: recipients.clone(),
                    saved_by: by,
                    saved_at: at,
                },
            );
        }
        SipEvent::RepresentativeAppointed {
            invitation_id,
            unit_id,
            representative,
            ..
        } => {
            if let Some(inv) = state.invitations.get_mut(invitation_id) {
                inv.representatives
                    .insert(unit_id.clone(), representative.clone());
            }
        }
        SipEvent::InvitationCancelled {
            invitation_id,
            reason,
            ..
        } => {
            if let Some(inv) = state.invitations.get_mut(invitation_id) {
                inv.cancelled = Some(Cancellation {
                    reason: reason.clone(),
                    recorded_at: at,
                });
            }
        }
        SipEvent::MeetingRescheduled {
            invitation_id,
            scheduled_at,
            form,
            place,
            ..
        } => {
            if let Some(inv) = state.invitations.get_mut(invitation_id) {
                inv.scheduled_at = *scheduled_at;
                inv.form = *form;
                inv.place = place.clone();
                inv.rescheduled = inv.rescheduled.saturating_add(1);
                inv.rescheduled_at = Some(at);
            }
        }
        SipEvent::MeetingHeld {
            invitation_id,
            held_at,
            attendees,
            chair,
            secretary,
            coordinator,
            follow_up_on,
            sip_survey_offered,
            ..
        } => {
            if let Some(inv) = state.invitations.get_mut(invitation_id) {
                inv.held = true;
            }
            let same = state
                .coordinator
                .as_ref()
                .is_some_and(|c| c.staff_id == coordinator.staff_id);
            if !same {
                if let Some(prev) = state.coordinator.take() {
                    state.former_coordinators.push(prev);
                }
                state.coordinator = Some(coordinator.clone());
            }
            state.next_follow_up_on = Some(*follow_up_on);
            state.meetings.push(Meeting {
                invitation_id: invitation_id.clone(),
                held_at: *held_at,
                attendees: attendees.clone(),
                chair: chair.clone(),
                secretary: secretary.clone(),
                coordinator: coordinator.clone(),
                follow_up_on: *follow_up_on,
                sip_survey_offered: *sip_survey_offered,
            });
        }
        SipEvent::MainGoalDocumented { text, .. } => {
            let goal = MainGoal {
                text: text.clone(),
                recorded_by: by.clone(),
                recorded_at: at,
            };
            draft(&mut state.main_goal, &by, goal);
        }
        SipEvent::SubGoalDocumented {
            sub_goal_id,
            heading,
            text,
            responsible,
            ..
        } => {
            let goal = SubGoal {
                heading: *heading,
                text: text.clone(),
                responsible: responsible.clone(),
                recorded_by: by.clone(),
                recorded_at: at,
            };
            let mut slot = state.sub_goals.remove(sub_goal_id);
            draft(&mut slot, &by, goal);
            if let Some(d) = slot {
                state.sub_goals.insert(sub_goal_id.clone(), d);
            }
        }
        SipEvent::InterventionDocumented {
            intervention_id,
            sub_goal_id,
            what,
            responsible,
            responsible_person,
            performer,
            contact,
            from,
            to,
            ..
        } => {
            let item = Intervention {
                sub_goal_id: sub_goal_id.clone(),
                what: what.clone(),
                responsible: responsible.clone(),
                responsible_person: responsible_person.clone(),
                performer: performer.clone(),
                contact: contact.clone(),
                from: *from,
                to: *to,
                recorded_by: by.clone(),
                recorded_at: at,
            };
            let mut slot = state.interventions.remove(intervention_id);
            draft(&mut slot, &by, item);
            if let Some(d) = slot {
                state.interventions.insert(intervention_id.clone(), d);
            }
        }
        SipEvent::ContributionPublished {
            unit_id,
            main_goal,
            sub_goal_ids,
            intervention_ids,
            ..
        } => {
            if *main_goal {
                if let Some(g) = state.main_goal.as_mut() {
                    publish(g, at);
                }
            }
            for id in sub_goal_ids {
                if let Some(g) = state.sub_goals.get_mut(id) {
                    publish(g, at);
                }
            }
            for id in intervention_ids {
                if let Some(i) = state.interventions.get_mut(id) {
                    publish(i, at);
                }
            }
            state.publications.push(Publication {
                unit_id: unit_id.clone(),
                recorded_at: at,
            });
        }
        SipEvent::FollowUpScheduled { follow_up_on, .. } => {
            state.next_follow_up_on = Some(*follow_up_on);
        }
        SipEvent::FollowUpRecorded {
            follow_up_id,
            held_on,
            invitation_id,
            by_coordinator,
            interventions,
            goals,
            next_follow_up_on,
            note,
            ..
        } => {
            if *by_coordinator {
                // The coordinator's follow-up settles the agreed date; the next one (if any)
                // takes its place.
                state.next_follow_up_on = *next_follow_up_on;
            }
            if let Some(inv) = invitation_id
                .as_ref()
                .and_then(|id| state.invitations.get_mut(id))
            {
                inv.held = true;
            }
            state.follow_ups.push(FollowUp {
                follow_up_id: follow_up_id.clone(),
                held_on: *held_on,
                invitation_id: invitation_id.clone(),
                by_coordinator: *by_coordinator,
                interventions: interventions.clone(),
                goals: goals.clone(),
                next_follow_up_on: *next_follow_up_on,
                note: note.clone(),
                recorded_by: by,
                recorded_at: at,
            });
        }
        SipEvent::SipClosed {
            reason,
            note,
            replaced_by,
            ..
        } => {
            state.closed = Some(Closure {
                reason: *reason,
                note: note.clone(),
                replaced_by: *replaced_by,
                recorded_by: by,
                recorded_at: at,
            });
        }
        SipEvent::DischargeRecorded { discharged_at, .. } => {
            state.discharged_at = Some(*discharged_at);
        }
        SipEvent::LettersPosted {
            invitation_id,
            recipients,
            ..
        } => {
            if let Some(inv) = state.invitations.get_mut(invitation_id) {
                let revision = inv.revision();
                inv.letters
                    .extend(recipients.iter().map(|recipient| LetterPosted {
                        recipient: recipient.clone(),
                        revision,
                        recorded_at: at,
                    }));
            }
        }
    }
    state
}

/// Folds a whole history from "no plan".
pub fn fold<'a>(events: impl IntoIterator<Item = &'a SipEvent>) -> SipState {
    events.into_iter().fold(SipState::default(), evolve)
}
