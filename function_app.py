"""The function app: composes the blueprints (logic lives in dr/) and, last, warms the settings reader."""

import azure.durable_functions as df

from activities.cancel import bp as cancel_activities
from activities.failback import bp as failback_activities
from activities.notify import bp as notify_activities
from activities.report import bp as report_activities
from activities.steps import bp as step_activities
from activities.sync import bp as sync_activities
from dr.settings import warm_settings_reader
from orchestrators.plan_lock import bp as plan_lock_entity
from orchestrators.recovery import bp as recovery_orchestrator
from orchestrators.run_graph import bp as run_graph_entity
from orchestrators.step import bp as step_orchestrator
from orchestrators.sync import bp as sync_orchestrator
from orchestrators.teardown import bp as teardown_orchestrators
from triggers.alerts import bp as alert_trigger
from triggers.operator import bp as operator_api
from triggers.plans import bp as plans_api
from triggers.readiness import bp as readiness_timers
from triggers.reports import bp as reports_api
from triggers.schedule import bp as sync_timer
from triggers.steps import bp as step_api
from triggers.teardown import bp as teardown_api
from triggers.watchdog import bp as watchdog_timer

app = df.DFApp()
for blueprint in (
    alert_trigger,
    operator_api,
    teardown_api,
    step_api,
    sync_timer,
    watchdog_timer,
    plans_api,
    reports_api,
    readiness_timers,
    recovery_orchestrator,
    step_orchestrator,
    sync_orchestrator,
    teardown_orchestrators,
    plan_lock_entity,
    run_graph_entity,
    step_activities,
    report_activities,
    sync_activities,
    failback_activities,
    notify_activities,
    cancel_activities,
):
    app.register_functions(blueprint)

# Last, once every module is imported: see warm_settings_reader.
warm_settings_reader()
