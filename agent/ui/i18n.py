"""Every word the local UI shows, in English and Spanish.

Words are short on purpose: the readers are five-year-olds and teachers in a hurry. Error codes
from `controller.Outcome.error` map to `err_<code>` entries; an unknown code falls back to a
generic sentence that still says the device stays closed.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_LANGUAGE = "en"

CATALOGUES: dict[str, dict[str, str]] = {
    "en": {
        "app_title": "LessonGate",
        "closed_heading": "The Internet opens when your teacher starts a lesson",
        "room": "Room",
        "teacher": "Teacher",
        "teacher_sign_in": "Teacher sign-in",
        "staff_id": "Staff ID",
        "pin": "PIN",
        "continue": "Continue",
        "cancel": "Cancel",
        "close": "Close",
        "pick_objectives": "Pick today's lesson",
        "search": "Search",
        "no_match": "Nothing matches.",
        "minutes": "Minutes",
        "minutes_hint": "{default} minutes usually, {max} at most",
        "start": "Start",
        "end": "End lesson",
        "extend": "Add time",
        "extend_minutes": "Minutes to add",
        "add_link": "Add a link",
        "link_url": "Web address",
        "add": "Add",
        "link_added": "Link added.",
        "extended": "Time added.",
        "session_active": "Session active",
        "lesson": "Today's lesson",
        "time_left": "Time left",
        "minutes_left": "{minutes} min",
        "less_than_a_minute": "less than 1 min",
        "resources": "Places to visit",
        "no_resources": "Your teacher will tell you where to go.",
        "opens_in_browser": "opens in the browser",
        "language": "Language",
        "other_language": "Español",
        "blocked_title": "This page is closed",
        "blocked_what": "You tried to open:",
        "blocked_why": "It is not part of today's lesson.",
        "blocked_ask": "Ask your teacher.",
        "blocked_unknown_host": "a page",
        "forbidden_title": "Open LessonGate from its own window",
        "forbidden_body": "This page only works in the LessonGate window on this computer.",
        "err_wrong_pin": "That staff ID or PIN is not right. Try again.",
        "err_empty_pin": "Type your PIN.",
        "err_empty_staff_id": "Type your staff ID.",
        "err_locked": "Too many wrong tries. Wait {seconds} seconds.",
        "err_unknown_objective": "That objective is not offered in this room.",
        "err_no_objectives": "Pick at least one objective.",
        "err_too_long": "That is too long: {max} minutes at most.",
        "err_bad_minutes": "Type a number of minutes, 1 or more.",
        "err_not_open": "No lesson is running.",
        "err_already_open": "A lesson is already running.",
        "err_blocked_by_district": "The district never allows that site.",
        "err_bad_url": "Type a full web address, like https://example.org/",
        "err_not_signed_in": "Please sign in again.",
        "err_bad_request": "That request was not understood.",
        "err_forbidden": "Open LessonGate from its own window.",
        "err_bad_host": "This address is not LessonGate's.",
        "err_no_policy": "The rules for this computer could not be loaded. It stays closed.",
        "err_no_room": "This computer is not in a room yet. Ask IT.",
        "err_no_verifier": "Teacher PINs cannot be checked right now. Ask IT.",
        "err_enforcement_failed": "The lesson could not be opened safely. It stays closed.",
        "err_unknown": "Something went wrong. The Internet stays closed.",
    },
    "es": {
        "app_title": "LessonGate",
        "closed_heading": "Internet se abre cuando tu maestro empieza una lección",
        "room": "Salón",
        "teacher": "Maestro",
        "teacher_sign_in": "Entrada del maestro",
        "staff_id": "Número de personal",
        "pin": "PIN",
        "continue": "Continuar",
        "cancel": "Cancelar",
        "close": "Cerrar",
        "pick_objectives": "Elige la lección de hoy",
        "search": "Buscar",
        "no_match": "No hay resultados.",
        "minutes": "Minutos",
        "minutes_hint": "{default} minutos normalmente, {max} como máximo",
        "start": "Empezar",
        "end": "Terminar la lección",
        "extend": "Dar más tiempo",
        "extend_minutes": "Minutos más",
        "add_link": "Añadir un enlace",
        "link_url": "Dirección web",
        "add": "Añadir",
        "link_added": "Enlace añadido.",
        "extended": "Tiempo añadido.",
        "session_active": "Sesión activa",
        "lesson": "La lección de hoy",
        "time_left": "Tiempo que queda",
        "minutes_left": "{minutes} min",
        "less_than_a_minute": "menos de 1 min",
        "resources": "Sitios para visitar",
        "no_resources": "Tu maestro te dirá adónde ir.",
        "opens_in_browser": "se abre en el navegador",
        "language": "Idioma",
        "other_language": "English",
        "blocked_title": "Esta página está cerrada",
        "blocked_what": "Intentaste abrir:",
        "blocked_why": "No es parte de la lección de hoy.",
        "blocked_ask": "Pregunta a tu maestro.",
        "blocked_unknown_host": "una página",
        "forbidden_title": "Abre LessonGate desde su propia ventana",
        "forbidden_body": "Esta página solo funciona en la ventana de LessonGate.",
        "err_wrong_pin": "El número de personal o el PIN no es correcto. Inténtalo otra vez.",
        "err_empty_pin": "Escribe tu PIN.",
        "err_empty_staff_id": "Escribe tu número de personal.",
        "err_locked": "Demasiados intentos. Espera {seconds} segundos.",
        "err_unknown_objective": "Ese objetivo no se ofrece en este salón.",
        "err_no_objectives": "Elige al menos un objetivo.",
        "err_too_long": "Es demasiado largo: {max} minutos como máximo.",
        "err_bad_minutes": "Escribe un número de minutos, 1 o más.",
        "err_not_open": "No hay ninguna lección en curso.",
        "err_already_open": "Ya hay una lección en curso.",
        "err_blocked_by_district": "El distrito nunca permite ese sitio.",
        "err_bad_url": "Escribe una dirección web completa, como https://example.org/",
        "err_not_signed_in": "Vuelve a entrar, por favor.",
        "err_bad_request": "No se entendió esa petición.",
        "err_forbidden": "Abre LessonGate desde su propia ventana.",
        "err_bad_host": "Esta dirección no es la de LessonGate.",
        "err_no_policy": "No se pudieron cargar las reglas de esta computadora. Sigue cerrada.",
        "err_no_room": "Esta computadora aún no tiene salón. Pregunta a informática.",
        "err_no_verifier": "Ahora no se pueden comprobar los PIN. Pregunta a informática.",
        "err_enforcement_failed": "No se pudo abrir la lección con seguridad. Sigue cerrada.",
        "err_unknown": "Algo salió mal. Internet sigue cerrado.",
    },
}

LANGUAGES = tuple(CATALOGUES)


def pick_language(requested: str | None, accept_language: str | None) -> str:
    """`?lang=` wins; then the browser's Accept-Language by q-value; then English."""
    if requested:
        code = requested.strip().lower()[:2]
        if code in CATALOGUES:
            return code
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        code = tag.strip().lower()[:2]
        if code in CATALOGUES and quality > 0:
            # Earlier entries win ties, as browsers list them by preference.
            ranked.append((-quality, position, code))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def catalogue(language: str) -> Mapping[str, str]:
    return CATALOGUES.get(language, CATALOGUES[DEFAULT_LANGUAGE])


def text(language: str, key: str, **params: object) -> str:
    template = catalogue(language).get(key) or CATALOGUES[DEFAULT_LANGUAGE][key]
    return template.format(**params)


def error_text(language: str, code: str | None, **params: object) -> str:
    key = f"err_{code}"
    if key not in CATALOGUES[DEFAULT_LANGUAGE]:
        key = "err_unknown"
    try:
        return text(language, key, **params)
    except (KeyError, IndexError):
        # A placeholder without its value (e.g. no retry time known) still deserves an answer.
        return text(language, "err_unknown")
