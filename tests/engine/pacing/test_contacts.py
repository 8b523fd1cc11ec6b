"""The pacing bench's contact list and what the harness does with it over several days."""

from bench.pacing.contacts import ABANDON_REST, DAY, ContactList, Outcome
from bench.pacing.harness import DaySim, run_days
from bench.pacing.scenario import BenchScenario

from opendialer.telephony.campaign_scenario import ContactListSpec
from tests.engine.pacing.test_harness import Script, sure_answers


def test_unreached_contacts_come_back_reached_ones_do_not_abandoned_ones_rest_72_hours() -> None:
    contacts = ContactList(ContactListSpec(size=3, max_tries=2, retry_after=600.0))
    assert contacts.dialable(0.0) == 3
    taken = [contacts.take(0.0) for _ in range(4)]
    assert taken == [(0, 0), (1, 0), (2, 0), None]
    contacts.finish(0, Outcome.REACHED, 10.0)
    contacts.finish(1, Outcome.UNREACHED, 10.0)
    contacts.finish(2, Outcome.ABANDONED, 10.0)
    assert contacts.dialable(500.0) == 0 and contacts.soon(500.0) == 1
    assert contacts.take(610.0) == (1, 1)
    contacts.finish(1, Outcome.UNREACHED, 620.0)  # out of tries
    assert contacts.dialable(ABANDON_REST) == 0
    assert contacts.take(10.0 + ABANDON_REST) == (2, 1)
    assert contacts.redials == 0


def test_refills_arrive_at_their_time_each_day() -> None:
    contacts = ContactList(ContactListSpec(size=0, refills={"14:00": 5}))
    contacts.refill(1, DAY, DAY + 14 * 3600.0)
    assert contacts.dialable(2 * DAY) == 0
    contacts.refill(1, DAY + 13 * 3600.0, DAY + 15 * 3600.0)
    assert contacts.dialable(DAY + 14 * 3600.0) == 5


def test_the_policy_sees_the_supply_and_only_placed_dials_are_reported() -> None:
    scenario = sure_answers(contacts={"size": 3})
    policy = Script(10)
    day = DaySim(scenario, policy, seed=1, contacts=ContactList(scenario.contacts)).run()  # type: ignore[arg-type]
    assert day.dials == 3
    assert policy.snapshots[0].dialable_now == 3
    placed = [o.dials_placed for o in policy.seen if o.dials_placed is not None]
    assert placed[0] == 3 and set(placed[1:]) == {0}
    assert policy.snapshots[-1].day_live_answers == 3
    assert policy.snapshots[-1].day_abandoned == 2  # one agent, three answers


def test_an_agent_leaving_mid_call_drops_out_of_the_policys_view() -> None:
    scenario = sure_answers(agents={"09:00": 2, "09:00:30": 2, "09:01": 1})
    policy = Script(2)
    DaySim(scenario, policy, seed=1).run()
    start = scenario.start_second
    by_time = {s.now - start: s for s in policy.snapshots}
    assert len(by_time[30.0].busy_agent_ages) == 2
    assert len(by_time[61.0].busy_agent_ages) == 1
    assert by_time[61.0].agents_logged_in == 1


def test_days_carry_the_list_over_and_the_ledger_starts_each_day_afresh() -> None:
    scenario = BenchScenario.model_validate(
        {
            "name": "days",
            "agents": 1,
            "hours": 1.0,
            "days": 2,
            "contacts": {"size": 4, "max_tries": 1},
            "sim": {"customers": {"p_live": 1.0, "p_machine": 0.0, "live_answer_after": 5.0}},
        }
    )
    policies: list[Script] = []

    def fresh() -> Script:
        policies.append(Script(3))
        return policies[-1]

    first, second = run_days(scenario, fresh, seed=1)
    assert len(policies) == 1  # one policy for both days
    assert (first.dials, second.dials) == (3, 0)  # the script dials once; 1 contact left
    assert policies[0].snapshots[-1].dialable_now == 1
    assert policies[0].snapshots[-1].day_live_answers == 0  # day two's ledger
    assert policies[0].snapshots[-1].now > DAY
