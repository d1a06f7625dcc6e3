//! The demo's units with their staff, and its persons. Ids are fixed, so they are the same on
//! every run and every machine (README walks through them).
//!
//! Personnummer are test numbers in the style of Skatteverket's test series (serial numbers
//! 980–999) with correct check digits; names are invented.

use crate::auth::Caller;
use crate::error::AppError;
use domain::context::Role;
use domain::ids::{PersonId, SipId, UnitId};
use domain::unit::PrincipalKind;
use ulid::Ulid;

/// The timestamp part of every demo id (2025-01-01T00:00:00Z): fixed, so ids are the same on
/// every run and every machine.
const DEMO_ID_MS: u64 = 1_735_689_600_000;

/// A unit of the demo and the staff member who acts for it (none for units without samplan).
pub(super) struct UnitSpec {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) kind: PrincipalKind,
    pub(super) principal: &'static str,
    pub(super) uses_samplan: bool,
    pub(super) address: &'static str,
    pub(super) phone: &'static str,
    pub(super) staff: Option<(&'static str, &'static str)>,
}

pub(super) const HC_LULEA: &str = "nll-hc-centrum-lulea";
pub(super) const PSYK_LULEA: &str = "nll-psykiatri-lulea";
pub(super) const AVD_61: &str = "nll-sunderby-avd61";
pub(super) const HC_BODEN: &str = "nll-hc-boden";
pub(super) const HT_LULEA: &str = "lulea-hemtjanst-centrum";
pub(super) const SOC_LULEA: &str = "lulea-socialtjanst-vuxen";
pub(super) const HT_BODEN: &str = "boden-hemtjanst";
pub(super) const SOC_BODEN: &str = "boden-socialtjanst-bou";
pub(super) const FK_LULEA: &str = "fk-lulea";

pub(super) const UNITS: &[UnitSpec] = &[
    UnitSpec {
        id: HC_LULEA,
        name: "Hälsocentralen Centrum, Luleå",
        kind: PrincipalKind::Region,
        principal: "Region Norrbotten",
        uses_samplan: true,
        address: "Storgatan 10, 972 31 Luleå",
        phone: "0920-28 40 00",
        staff: Some((
            "SE2321000016-DHC1",
            "Distriktssköterska, Hälsocentralen Centrum",
        )),
    },
    UnitSpec {
        id: PSYK_LULEA,
        name: "Psykiatriska mottagningen Luleå",
        kind: PrincipalKind::Region,
        principal: "Region Norrbotten",
        uses_samplan: true,
        address: "Köpmangatan 40, 972 33 Luleå",
        phone: "0920-28 45 00",
        staff: Some(("SE2321000016-DPS1", "Kurator, Psykiatriska mottagningen")),
    },
    UnitSpec {
        id: AVD_61,
        name: "Vårdavdelning 61 (medicin), Sunderby sjukhus",
        kind: PrincipalKind::Region,
        principal: "Region Norrbotten",
        uses_samplan: true,
        address: "Sunderby sjukhus, 971 80 Luleå",
        phone: "0920-28 20 61",
        staff: Some(("SE2321000016-DAV1", "Sjuksköterska, vårdavdelning 61")),
    },
    UnitSpec {
        id: HC_BODEN,
        name: "Hälsocentralen Boden",
        kind: PrincipalKind::Region,
        principal: "Region Norrbotten",
        uses_samplan: true,
        address: "Kungsgatan 5, 961 31 Boden",
        phone: "0921-28 30 00",
        staff: Some((
            "SE2321000016-DHB1",
            "Distriktssköterska, Hälsocentralen Boden",
        )),
    },
    UnitSpec {
        id: HT_LULEA,
        name: "Hemtjänst Centrum",
        kind: PrincipalKind::Municipality,
        principal: "Luleå kommun",
        uses_samplan: true,
        address: "Rådhusgatan 4, 972 31 Luleå",
        phone: "0920-45 30 00",
        staff: Some((
            "SE2120000001-DHT1",
            "Biståndshandläggare, hemtjänsten Luleå",
        )),
    },
    UnitSpec {
        id: SOC_LULEA,
        name: "Socialtjänsten Luleå, vuxenenheten",
        kind: PrincipalKind::Municipality,
        principal: "Luleå kommun",
        uses_samplan: true,
        address: "Rådhusgatan 6, 972 31 Luleå",
        phone: "0920-45 31 00",
        staff: Some(("SE2120000001-DSV1", "Socialsekreterare, vuxenenheten")),
    },
    UnitSpec {
        id: HT_BODEN,
        name: "Hemtjänsten Boden",
        kind: PrincipalKind::Municipality,
        principal: "Bodens kommun",
        uses_samplan: true,
        address: "Kyrkgatan 24, 961 35 Boden",
        phone: "0921-620 00",
        staff: Some((
            "SE2120000002-DHT2",
            "Biståndshandläggare, hemtjänsten Boden",
        )),
    },
    UnitSpec {
        id: SOC_BODEN,
        name: "Socialtjänsten Boden, barn och unga",
        kind: PrincipalKind::Municipality,
        principal: "Bodens kommun",
        uses_samplan: true,
        address: "Kyrkgatan 24, 961 35 Boden",
        phone: "0921-621 00",
        staff: Some(("SE2120000002-DBU1", "Socialsekreterare, barn och unga")),
    },
    UnitSpec {
        id: FK_LULEA,
        name: "Försäkringskassan, lokalkontor Luleå",
        kind: PrincipalKind::External,
        principal: "Försäkringskassan",
        uses_samplan: false,
        address: "Box 1164, 971 27 Luleå",
        phone: "0771-524 524",
        staff: None,
    },
];

/// A person of the demo.
pub(super) struct PersonSpec {
    pub(super) n: u8,
    pub(super) pin: &'static str,
    pub(super) name: &'static str,
    pub(super) phone: &'static str,
    pub(super) address: &'static str,
}

pub(super) const PERSONS: &[PersonSpec] = &[
    PersonSpec {
        n: 1,
        pin: "19380614-9807",
        name: "Astrid Nilsson",
        phone: "0920-123 01",
        address: "Skeppsbrogatan 12, 972 31 Luleå",
    },
    PersonSpec {
        n: 2,
        pin: "19620923-9810",
        name: "Erik Lindqvist",
        phone: "070-123 02 02",
        address: "Hermelinsgatan 3, 972 34 Luleå",
    },
    PersonSpec {
        n: 3,
        pin: "20140302-9828",
        name: "Elsa Berg",
        phone: "070-123 03 03",
        address: "Stationsgatan 7, 961 32 Boden",
    },
    PersonSpec {
        n: 4,
        pin: "19751108-9836",
        name: "Karin Öberg",
        phone: "070-123 04 04",
        address: "Lulevägen 44, 973 31 Luleå",
    },
    PersonSpec {
        n: 5,
        pin: "19480221-9842",
        name: "Lars Holm",
        phone: "0921-123 05",
        address: "Drottninggatan 2, 961 33 Boden",
    },
    PersonSpec {
        n: 6,
        pin: "19900517-9859",
        name: "Sofia Åberg",
        phone: "070-123 06 06",
        address: "Smedjegatan 19, 972 32 Luleå",
    },
    PersonSpec {
        n: 7,
        pin: "19830730-9867",
        name: "Mikael Strand",
        phone: "070-123 07 07",
        address: "Garnisonsgatan 8, 961 36 Boden",
    },
    PersonSpec {
        n: 8,
        pin: "19440105-9870",
        name: "Gunnel Persson",
        phone: "0920-123 08",
        address: "Bergsgatan 21, 972 33 Luleå",
    },
    // A samordningsnummer: the day of birth plus 60.
    PersonSpec {
        n: 9,
        pin: "19700471-9881",
        name: "Ahmed Hassan",
        phone: "070-123 09 09",
        address: "Porsövägen 30, 977 52 Luleå",
    },
    PersonSpec {
        n: 10,
        pin: "19510919-9892",
        name: "Ingrid Lund",
        phone: "0920-123 10",
        address: "Kungsgatan 15, 972 41 Luleå",
    },
    PersonSpec {
        n: 11,
        pin: "19850312-9903",
        name: "Nora Sandberg",
        phone: "070-123 11 11",
        address: "Storgatan 60, 972 38 Luleå",
    },
];

/// The fixed id number `n` of kind `kind` (persons 1, plans 2).
fn demo_ulid(kind: u128, n: u8) -> Ulid {
    Ulid::from_parts(DEMO_ID_MS, (0xDE40 << 32) | (kind << 16) | u128::from(n))
}

/// The demo person number `n`.
pub fn person_id(n: u8) -> PersonId {
    PersonId::from_ulid(demo_ulid(1, n))
}

/// The demo plan number `n`.
pub fn sip_id(n: u8) -> SipId {
    SipId::from_ulid(demo_ulid(2, n))
}

pub(super) fn spec(unit: &str) -> Result<&'static UnitSpec, AppError> {
    UNITS
        .iter()
        .find(|u| u.id == unit)
        .ok_or_else(|| AppError::internal(format!("demo: no unit {unit}")))
}

/// The staff member acting for `unit`.
pub(super) fn staff(unit: &str) -> Result<Caller, AppError> {
    let spec = spec(unit)?;
    let (sub, name) = spec
        .staff
        .ok_or_else(|| AppError::internal(format!("demo: {unit} has no staff")))?;
    Ok(Caller {
        sub: sub.to_owned(),
        role: Role::Staff,
        unit: Some(UnitId::parse(unit)?),
        name: name.to_owned(),
        personal_identity_number: None,
    })
}

pub(super) fn staff_name(unit: &str) -> String {
    spec(unit)
        .ok()
        .and_then(|s| s.staff)
        .map_or_else(|| unit.to_owned(), |(_, name)| name.to_owned())
}
