"""Trove's embedded infrastructure (PostgreSQL + pgvector, Redis, Firebase Auth Emulator) and process launcher."""

from __future__ import annotations

from trove_stack.config import StackConfig, free_ports, process_env, service_dsn, service_env
from trove_stack.infra import (
    Infra,
    InfraStack,
    ServiceGroup,
    running_infra,
    running_services,
    start_infra,
    start_services,
)
from trove_stack.postgres import create_database, drop_database, provision, provision_sync
from trove_stack.process import StackError
from trove_stack.secrets import Secrets
from trove_stack.services import SERVICES, ServiceSpec

__all__ = [
    "SERVICES",
    "Infra",
    "InfraStack",
    "Secrets",
    "ServiceGroup",
    "ServiceSpec",
    "StackConfig",
    "StackError",
    "create_database",
    "drop_database",
    "free_ports",
    "process_env",
    "provision",
    "provision_sync",
    "running_infra",
    "running_services",
    "service_dsn",
    "service_env",
    "start_infra",
    "start_services",
]
