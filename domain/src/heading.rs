//! The fixed list of sub-goal headings (delmålsrubriker), shared by mapping (kartläggning) and
//! sub-goals (delmål).
//!
//! Source: the seeds say that the same headings are used in the mapping and when sub-goals are
//! documented, and that they describe the person's functioning, disability and health following
//! ICF (`002_e8f513fd830d8301.txt`, "Kartläggning"; `000_e0675eaa3014e37a.txt`,
//! "Delmålsrubrikerna finns både i kartläggningsfunktionen och när du dokumenterar …", and "Alla
//! delmålsrubriker behöver inte användas vid alla SIP"). The seeds do not list the headings
//! themselves, so this list follows the ICF components and the activity and participation
//! chapters (d1–d9), named the way Swedish SIP staff talk about them, with health split into
//! physical and mental health and an "Övrigt" heading for what fits nowhere else.
//!
//! The order of [`Heading::ALL`] is the order shown to users. Codes are stable identifiers stored
//! in events: never rename one, only add new headings.

use serde::{Deserialize, Serialize};

/// A sub-goal heading (delmålsrubrik).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Heading {
    /// Fysisk hälsa (ICF body functions and structures).
    PhysicalHealth,
    /// Psykisk hälsa (ICF b1 mental functions).
    MentalHealth,
    /// Alkohol, narkotika och spel (substance use and gambling, common in psychiatry SIPs).
    SubstanceUse,
    /// Egenvård och personlig vård (ICF d5 self-care).
    SelfCare,
    /// Boende (ICF e1/d6 housing).
    Housing,
    /// Hem och vardag (ICF d6 domestic life: household, shopping, cooking).
    DailyLiving,
    /// Förflyttning och hjälpmedel (ICF d4 mobility, e1 assistive products).
    Mobility,
    /// Kommunikation (ICF d3 communication).
    Communication,
    /// Lärande, skola och utbildning (ICF d1 learning, d8 education).
    Education,
    /// Arbete och sysselsättning (ICF d8 work and employment).
    Occupation,
    /// Ekonomi (ICF d8 economic life).
    Finances,
    /// Relationer och nätverk (ICF d7 interpersonal relationships).
    Relationships,
    /// Fritid och samhällsliv (ICF d9 community, social and civic life).
    Leisure,
    /// Trygghet och säkerhet (safety, protection, violence in close relationships).
    Safety,
    /// Övrigt (anything else).
    Other,
}

/// The heading code is not one of [`Heading::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadingError {
    #[error("unknown heading: {0}")]
    Unknown(String),
}

impl HeadingError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        "unknown_heading"
    }

    /// The problem in Swedish, listing the valid headings.
    pub fn message(&self) -> String {
        match self {
            HeadingError::Unknown(given) => {
                let valid: Vec<String> = Heading::ALL
                    .iter()
                    .map(|h| format!("{} ({})", h.code(), h.label()))
                    .collect();
                format!(
                    "Okänd delmålsrubrik \u{201d}{given}\u{201d}. Giltiga rubriker: {}.",
                    valid.join(", ")
                )
            }
        }
    }
}

impl Heading {
    /// Every heading, in display order.
    pub const ALL: &'static [Heading] = &[
        Heading::PhysicalHealth,
        Heading::MentalHealth,
        Heading::SubstanceUse,
        Heading::SelfCare,
        Heading::Housing,
        Heading::DailyLiving,
        Heading::Mobility,
        Heading::Communication,
        Heading::Education,
        Heading::Occupation,
        Heading::Finances,
        Heading::Relationships,
        Heading::Leisure,
        Heading::Safety,
        Heading::Other,
    ];

    /// Stable code, the same as the serde form (snake_case).
    pub fn code(&self) -> &'static str {
        match self {
            Heading::PhysicalHealth => "physical_health",
            Heading::MentalHealth => "mental_health",
            Heading::SubstanceUse => "substance_use",
            Heading::SelfCare => "self_care",
            Heading::Housing => "housing",
            Heading::DailyLiving => "daily_living",
            Heading::Mobility => "mobility",
            Heading::Communication => "communication",
            Heading::Education => "education",
            Heading::Occupation => "occupation",
            Heading::Finances => "finances",
            Heading::Relationships => "relationships",
            Heading::Leisure => "leisure",
            Heading::Safety => "safety",
            Heading::Other => "other",
        }
    }

    /// The Swedish heading shown to staff and to the person.
    pub fn label(&self) -> &'static str {
        match self {
            Heading::PhysicalHealth => "Fysisk hälsa",
            Heading::MentalHealth => "Psykisk hälsa",
            Heading::SubstanceUse => "Alkohol, narkotika och spel",
            Heading::SelfCare => "Egenvård och personlig vård",
            Heading::Housing => "Boende",
            Heading::DailyLiving => "Hem och vardag",
            Heading::Mobility => "Förflyttning och hjälpmedel",
            Heading::Communication => "Kommunikation",
            Heading::Education => "Skola och utbildning",
            Heading::Occupation => "Arbete och sysselsättning",
            Heading::Finances => "Ekonomi",
            Heading::Relationships => "Relationer och nätverk",
            Heading::Leisure => "Fritid och samhällsliv",
            Heading::Safety => "Trygghet och säkerhet",
            Heading::Other => "Övrigt",
        }
    }

    /// Parses a heading code (surrounding whitespace ignored, case-insensitive).
    pub fn parse(code: &str) -> Result<Heading, HeadingError> {
        let wanted = code.trim();
        Heading::ALL
            .iter()
            .copied()
            .find(|h| h.code().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| HeadingError::Unknown(code.to_string()))
    }
}

impl std::fmt::Display for Heading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
