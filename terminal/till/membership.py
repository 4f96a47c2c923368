"""Member enrolment at the till (offline) and lost-card replacement."""

from __future__ import annotations

import uuid

from shared.bounds import MAX_EMAIL, MAX_PHONE, MAX_TEXT
from shared.codes import (
    LoyaltyCard,
    Unrecognised,
)
from shared.emails import validate_email
from shared.journal import (
    CardReplacement,
    Enrolment,
    JournalEntry,
    MemberRef,
)
from shared.phones import validate_phone
from shared.text import unsafe_character
from terminal.store.members import (
    assign_card,
    block_card,
    card_by_number,
    member_by_key,
    upsert_member,
)
from terminal.till.base import TillBase
from terminal.till.errors import (
    CardBlockedError,
    EnrolmentRefusedError,
    UnknownCardError,
)
from terminal.till.results import MemberView

__all__ = ["MembershipActions"]


def _check_contact(what: str, text: str | None, limit: int) -> None:
    """Refuse what the enrolment could not be journaled with (and HQ could not store): a
    control character (a NUL once wedged a till's sync on PostgreSQL), a lone surrogate, or
    more characters than shared.bounds allows. Said per field, before anything is written."""
    if text is None:
        return
    found = unsafe_character(text)
    if found is not None:
        position, character = found
        raise EnrolmentRefusedError(
            f"The {what} holds an invisible control character (U+{ord(character):04X}) at "
            f"position {position}",
            f"clear the {what} and type it again",
        )
    if len(text) > limit:
        raise EnrolmentRefusedError(
            f"The {what} is {len(text)} characters long; at most {limit} fit",
            f"shorten the {what}",
        )


class MembershipActions(TillBase):
    """Enrolment and cards."""

    # --- members: enrolment and cards -----------------------------------------------------------

    def enrol(
        self,
        *,
        name: str,
        phone: str | None,
        email: str | None,
        marketing_consent: bool,
        card_number: str,
    ) -> tuple[JournalEntry, MemberView]:
        """Sign up a member offline and assign the blank card just scanned."""
        cashier_id = self._cashier_id()
        name, phone, email = (
            name.strip(),
            (phone or "").strip() or None,
            (email or "").strip() or None,
        )
        if not name:
            raise EnrolmentRefusedError("The member's name is missing", "type their name")
        _check_contact("name", name, MAX_TEXT)
        _check_contact("phone number", phone, MAX_PHONE)
        _check_contact("email", email, MAX_EMAIL)
        if not (phone or email):
            raise EnrolmentRefusedError("A phone number or an email is needed", "ask for one")
        # Stored normalised (E.164, the e-mail's domain in lower case): search finds them.
        try:
            phone = validate_phone(phone, self.config.country) if phone else None
            email = validate_email(email) if email else None
        except ValueError as error:
            raise EnrolmentRefusedError(str(error)) from None
        code = self.classify(card_number)
        if not isinstance(code, LoyaltyCard):
            reason = code.reason if isinstance(code, Unrecognised) else "not a loyalty card"
            raise EnrolmentRefusedError(
                f"That card cannot be assigned: {reason}", "scan a blank card"
            )
        now, offset, _ = self._now()
        local_id = str(uuid.uuid4())
        with self._storable("enrolment"), self.database.write() as db:
            if card_by_number(db, code.number) is not None:
                raise EnrolmentRefusedError(
                    "This card already belongs to a member", "take another blank card"
                )
            entry = self._append(
                db,
                Enrolment(
                    store_id=self.config.store_id,
                    local_member_id=local_id,
                    name=name,
                    phone=phone,
                    email=email,
                    marketing_consent=marketing_consent,
                    consent_text_version=self.config.consent_text_version,
                    card_number=code.number,
                ),
                now,
                offset,
                cashier_id,
            )
            key = f"L:{local_id}"
            upsert_member(
                db,
                member_key=key,
                name=name,
                phone=phone,
                email=email,
                tier=None,
                marketing_consent=marketing_consent,
                local_member_id=local_id,
                region=self.config.country,
            )
            assign_card(db, code.number, key)
        return entry, self.member_view(code.number)

    def replace_card(self, old_card: str, new_card: str, reason: str = "lost") -> JournalEntry:
        """Block a lost card and move the member (and so the balance) to a new card."""
        cashier_id = self._cashier_id()
        code = self.classify(new_card)
        if not isinstance(code, LoyaltyCard):
            raise EnrolmentRefusedError(
                "The new card is not a valid loyalty card", "scan a blank card"
            )
        if reason not in ("lost", "stolen", "damaged"):
            raise EnrolmentRefusedError("Reason must be lost, stolen or damaged")
        now, offset, _ = self._now()
        with self._storable("card replacement"), self.database.write() as db:
            old = card_by_number(db, old_card)
            if old is None:
                raise UnknownCardError("The old card is not registered", "find the member by phone")
            if old.blocked:
                raise CardBlockedError(
                    "The old card is already blocked", "use the member's new card"
                )
            if card_by_number(db, code.number) is not None:
                raise EnrolmentRefusedError("The new card already belongs to a member")
            member = member_by_key(db, old.member_key)
            assert member is not None
            entry = self._append(
                db,
                CardReplacement(
                    member=MemberRef(
                        card_number=old_card,
                        member_id=member.member_id,
                        local_member_id=member.local_member_id,
                    ),
                    old_card_number=old_card,
                    new_card_number=code.number,
                    reason=reason,
                ),
                now,
                offset,
                cashier_id,
            )
            block_card(db, old_card, f"replaced ({reason})")
            assign_card(db, code.number, old.member_key)
        return entry
