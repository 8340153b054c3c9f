"""The IAM API as a service: `IamService` exposes every supported IAM action."""
from app.services.iam.base import Authorizer
from app.services.iam.service import IamService

__all__ = ["Authorizer", "IamService"]
