"""The school API: schools and their users (GET list and one, POST, PUT/PATCH, DELETE), a CSV
import of users, and who is in a school now."""

from __future__ import annotations

from aiohttp import web

from handlers.http.bearer import bearer_identity
from handlers.http.bodies import school_request, user_import_request, user_request
from handlers.http.formats import data_response
from handlers.http.queries import page_of
from handlers.http.validation import json_body, path_id, read_query, text_body
from handlers.keys import CHECKINS, SCHOOLS
from handlers.wire.schools import in_school_json, school_json, user_json
from models.domain.records import now_ms


async def list_schools(request: web.Request) -> web.Response:
    page = read_query(request, page_of)
    schools = await request.app[SCHOOLS].list_schools(
        bearer_identity(request), page.cursor or "", page.limit
    )
    next_cursor = schools[-1].id if len(schools) == page.limit else None
    return data_response([school_json(s) for s in schools], next_cursor=next_cursor)


async def get_school(request: web.Request) -> web.Response:
    school = await request.app[SCHOOLS].get(bearer_identity(request), path_id(request, "id"))
    return data_response(school_json(school))


async def create_school(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    school_id, spec = school_request(await json_body(request), partial=False)
    school = await request.app[SCHOOLS].create(identity, school_id, spec)
    return data_response(school_json(school), status=201)


async def update_school(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    _, spec = school_request(await json_body(request), partial=request.method == "PATCH")
    school = await request.app[SCHOOLS].update(identity, path_id(request, "id"), spec)
    return data_response(school_json(school))


async def delete_school(request: web.Request) -> web.Response:
    await request.app[SCHOOLS].delete(bearer_identity(request), path_id(request, "id"))
    return web.Response(status=204)


async def list_users(request: web.Request) -> web.Response:
    page = read_query(request, page_of)
    users = await request.app[SCHOOLS].list_users(
        bearer_identity(request), request.query.get("school_id"), page.cursor or "", page.limit
    )
    next_cursor = users[-1].id if len(users) == page.limit else None
    return data_response([user_json(u) for u in users], next_cursor=next_cursor)


async def get_user(request: web.Request) -> web.Response:
    user = await request.app[SCHOOLS].get_user(bearer_identity(request), path_id(request, "id"))
    return data_response(user_json(user))


async def create_user(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    user_id, spec = user_request(await json_body(request), partial=False)
    user = await request.app[SCHOOLS].create_user(identity, user_id, spec)
    return data_response(user_json(user), status=201)


async def update_user(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    _, spec = user_request(await json_body(request), partial=request.method == "PATCH")
    user = await request.app[SCHOOLS].update_user(identity, path_id(request, "id"), spec)
    return data_response(user_json(user))


async def import_users(request: web.Request) -> web.Response:
    identity = bearer_identity(request)
    school_id = path_id(request, "id")
    users = user_import_request(await text_body(request), school_id)
    created = await request.app[SCHOOLS].import_users(identity, school_id, users)
    return data_response(
        {"imported": len(created), "users": [user_json(u) for u in created]}, status=201
    )


async def in_school(request: web.Request) -> web.Response:
    here = await request.app[CHECKINS].in_school(
        bearer_identity(request), path_id(request, "id"), now_ms()
    )
    return data_response([in_school_json(one) for one in here])


async def delete_user(request: web.Request) -> web.Response:
    await request.app[SCHOOLS].delete_user(bearer_identity(request), path_id(request, "id"))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/api/schools", list_schools)
    router.add_post("/api/schools", create_school)
    router.add_get("/api/schools/{id}", get_school)
    router.add_put("/api/schools/{id}", update_school)
    router.add_patch("/api/schools/{id}", update_school)
    router.add_delete("/api/schools/{id}", delete_school)
    router.add_post("/api/schools/{id}/users/import", import_users)
    router.add_get("/api/schools/{id}/present", in_school)
    router.add_get("/api/users", list_users)
    router.add_post("/api/users", create_user)
    router.add_get("/api/users/{id}", get_user)
    router.add_put("/api/users/{id}", update_user)
    router.add_patch("/api/users/{id}", update_user)
    router.add_delete("/api/users/{id}", delete_user)
