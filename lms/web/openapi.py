"""The OpenAPI 3.1 document of the JSON API, built from the pydantic request models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lms import __version__

_ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {
        "error": {"type": "string", "description": "What went wrong, in a few words."},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "message": {"type": "string", "description": "What to do about it (generic errors)."},
        "details": {
            "description": "For an invalid body: one entry per invalid field.",
            "anyOf": [
                {"type": "null"},
                {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                },
            ],
        },
    },
}
_SESSION_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
_STATE = {
    "type": "object",
    "required": ["position", "covered_seconds", "covered_fraction", "duration", "completed"],
    "properties": {
        "position": {"type": "number", "minimum": 0},
        "covered_seconds": {"type": "number", "minimum": 0},
        "covered_fraction": {"type": "number", "minimum": 0, "maximum": 1},
        "duration": {"type": "number", "minimum": 0},
        "threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        "completed": {"type": "boolean"},
        "credited": {"type": "number", "minimum": 0},
        "course_completed": {"type": "boolean"},
        "course_percent": {
            "type": "integer",
            "minimum": 0,
            "maximum": 100,
            "description": "On the report that completed the lesson: the course's progress now.",
        },
        "certificate_code": {
            "type": "string",
            "description": "On the report that finished the course: the certificate's code.",
        },
        "certificate_url": {
            "type": "string",
            "description": "On the report that finished the course: its certificate's page.",
        },
    },
}
_CREDIT = {
    "type": "object",
    "required": ["training_seconds", "session_training_seconds", "recorded_seconds"],
    "properties": {
        "training_seconds": {
            "type": "number",
            "minimum": 0,
            "description": "Wall-clock seconds of training time credited for this report.",
        },
        "session_training_seconds": {
            "type": "number",
            "minimum": 0,
            "description": "Training time credited to the playback session so far.",
        },
        "recorded_seconds": {
            "type": "integer",
            "minimum": 0,
            "description": "Whole seconds of the session in the training-time ledger.",
        },
    },
}
_TERMS = {
    "type": "object",
    "required": ["session_id", "max_rate", "report_every"],
    "properties": {
        "session_id": _SESSION_ID,
        "max_rate": {
            "type": "number",
            "minimum": 1,
            "maximum": 4,
            "description": "The fastest playback rate that counts in full for this lesson.",
        },
        "report_every": {
            "type": "integer",
            "minimum": 1,
            "description": "Seconds between reports while the video plays.",
        },
    },
}


_ERROR_TEXT = {
    400: "Missing or invalid CSRF token; nothing was written.",
    401: "Not logged in.",
    403: "Not enrolled in the course.",
    404: "No such video lesson or playback session for this user.",
    409: "The video is not ready.",
    413: "Body too large.",
    415: "The body is not application/json.",
    503: "The database is unreachable or out of space; nothing was saved. Try again later.",
}


def _errors(*codes: int, described: dict[int, str] | None = None) -> dict[str, Any]:
    """Error responses, with the standard description unless ``described`` has another."""
    return {
        str(code): {
            "description": (described or {}).get(code, _ERROR_TEXT[code]),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Cache-Control": {"$ref": "#/components/headers/NoStore"}},
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def openapi_document(
    report_model: type[BaseModel], session_cookie: str = "session"
) -> dict[str, Any]:
    report_schema = report_model.model_json_schema(ref_template="#/components/schemas/{model}")
    lesson_id = {
        "name": "lesson_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
    csrf = {
        "name": "X-CSRFToken",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "The CSRF token of the page (meta name=csrf-token).",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Camp LMS API",
            "version": __version__,
            "description": "Playback sessions and verified watch time. Authenticated by the "
            "session cookie; state changes need the X-CSRFToken header.",
        },
        "security": [{"session": []}],
        "paths": {
            "/api/lessons/{lesson_id}/playback": {
                "post": {
                    "operationId": "openPlayback",
                    "summary": "Open a playback session for a video lesson",
                    "parameters": [lesson_id, csrf],
                    "responses": {
                        "201": _ok("The session and the learner's progress", "Playback"),
                        **_errors(400, 401, 403, 404, 409, 413, 503),
                    },
                }
            },
            "/api/lessons/{lesson_id}/progress": {
                "get": {
                    "operationId": "lessonProgress",
                    "summary": "The learner's progress in a video lesson",
                    "parameters": [lesson_id],
                    "responses": {
                        "200": _ok("Progress", "ProgressState"),
                        **_errors(401, 403, 404, 409, 503),
                    },
                }
            },
            "/api/playback/{session_id}/progress": {
                "post": {
                    "operationId": "reportProgress",
                    "summary": "Report played intervals; the server credits verified time",
                    "parameters": [
                        {
                            "name": "session_id",
                            "in": "path",
                            "required": True,
                            "schema": _SESSION_ID,
                            "description": "The session_id answered when the session was opened.",
                        },
                        csrf,
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ProgressReport"}
                            }
                        },
                    },
                    "responses": {
                        "200": _ok("Progress after crediting", "ReportAnswer"),
                        **_errors(
                            *(400, 401, 403, 404, 409, 413, 415, 503),
                            described={
                                400: "Missing or invalid CSRF token, or an invalid body or "
                                "values (see details); nothing was written."
                            },
                        ),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "ProgressReport": report_schema,
                "ProgressState": _STATE,
                "Playback": {"allOf": [{"$ref": "#/components/schemas/ProgressState"}, _TERMS]},
                "ReportAnswer": {
                    "allOf": [{"$ref": "#/components/schemas/ProgressState"}, _CREDIT]
                },
                "Error": _ERROR,
            },
            "headers": {
                "NoStore": {
                    "description": "Answers for a logged-in learner are never cached.",
                    "required": True,
                    "schema": {"type": "string", "const": "no-store"},
                }
            },
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": session_cookie,
                    "description": "The session cookie set by logging in at /login.",
                }
            },
        },
    }
