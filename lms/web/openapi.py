"""The OpenAPI 3.1 document of the JSON API, built from the pydantic request models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lms import __version__

_ERROR = {
    "type": "object",
    "required": ["error", "status"],
    "properties": {
        "error": {"type": "string"},
        "status": {"type": "integer"},
        "details": {},
    },
}
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
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Invalid body or values; nothing was written.",
        401: "Not logged in.",
        403: "Not enrolled in the course.",
        404: "No such lesson or session for this user.",
        409: "The video is not ready.",
        413: "Body too large.",
    }
    return {
        str(code): {
            "description": text[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def openapi_document(report_model: type[BaseModel]) -> dict[str, Any]:
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
        "paths": {
            "/api/lessons/{lesson_id}/playback": {
                "post": {
                    "summary": "Open a playback session for a video lesson",
                    "parameters": [lesson_id, csrf],
                    "responses": {
                        "201": _ok("The session and the learner's progress", "Playback"),
                        **_errors(401, 403, 404, 409),
                    },
                }
            },
            "/api/lessons/{lesson_id}/progress": {
                "get": {
                    "summary": "The learner's progress in a video lesson",
                    "parameters": [lesson_id],
                    "responses": {
                        "200": _ok("Progress", "ProgressState"),
                        **_errors(401, 403, 404, 409),
                    },
                }
            },
            "/api/playback/{session_id}/progress": {
                "post": {
                    "summary": "Report played intervals; the server credits verified time",
                    "parameters": [
                        {
                            "name": "session_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
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
                        "200": _ok("Progress after crediting", "ProgressState"),
                        **_errors(400, 401, 403, 404, 409, 413),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "ProgressReport": report_schema,
                "ProgressState": _STATE,
                "Playback": {
                    "allOf": [
                        {"$ref": "#/components/schemas/ProgressState"},
                        {
                            "type": "object",
                            "required": ["session_id"],
                            "properties": {"session_id": {"type": "string"}},
                        },
                    ]
                },
                "Error": _ERROR,
            }
        },
    }
