//! `/portal/map`: the client's company's sites, each with its address, its machines and
//! their latest visits with the visit reports to download, and a map of the sites with
//! coordinates when a tile server is set (`portal.map_tiles`). The page lists everything
//! whether or not the map draws: without the setting, without script, or with the tiles
//! unreachable, the list below is the same.
//!
//! Every site, machine and visit comes through the client's `ClientScope`; the page's
//! content-security policy allows images from the tile server's origin and nothing more.
//!
//! Tests: e2e `equipment::sites_are_imported_whole_and_mapped_for_their_company_only`,
//! browser `portal.test.mjs` (the map with tiles from a loopback server, and without).

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use switchboard_portal::geo::{degrees, tile_origin};
use switchboard_portal::locale::Lang;

use super::{Client, Layout, private};
use crate::kit::AppState;
use crate::kit::error::ApiError;
use crate::kit::http::CONTENT_SECURITY_POLICY;
use crate::kit::machines::{MachineView, machine_view};
use crate::kit::page::render;
use crate::kit::visits::VisitView;

/// Visits shown per machine.
const VISITS_PER_MACHINE: i64 = 5;

pub struct MapWords {
    pub title: &'static str,
    pub lead: &'static str,
    pub map: &'static str,
    pub no_sites: &'static str,
    pub other_places: &'static str,
    pub machines: &'static str,
    pub no_machines: &'static str,
    pub visits: &'static str,
    pub no_visits: &'static str,
    pub report: &'static str,
    pub open_in_maps: &'static str,
    pub no_coordinates: &'static str,
    pub down: &'static str,
    pub sites_nav: &'static str,
    pub offline: &'static str,
}

pub fn map_words(lang: Lang) -> &'static MapWords {
    match lang {
        Lang::En => &MapWords {
            title: "Sites",
            lead: "Where your machines are, and each one's latest visits with their reports.",
            map: "Map of your sites",
            no_sites: "No sites yet: your machines are listed below.",
            other_places: "Machines without a site",
            machines: "Machines",
            no_machines: "No machines at this site.",
            visits: "Latest visits",
            no_visits: "No visits yet.",
            report: "Visit report",
            open_in_maps: "Open in a map",
            no_coordinates: "Not on the map: no coordinates yet.",
            down: "down",
            sites_nav: "Sites and map",
            offline: "The map could not be loaded. Every site is listed below.",
        },
        Lang::Es => &MapWords {
            title: "Sedes",
            lead: "Dónde están sus equipos, y las últimas visitas de cada uno con sus informes.",
            map: "Mapa de sus sedes",
            no_sites: "Aún no hay sedes: sus equipos figuran abajo.",
            other_places: "Equipos sin sede",
            machines: "Equipos",
            no_machines: "No hay equipos en esta sede.",
            visits: "Últimas visitas",
            no_visits: "Aún no hay visitas.",
            report: "Informe de la visita",
            open_in_maps: "Abrir en un mapa",
            no_coordinates: "Fuera del mapa: aún sin coordenadas.",
            down: "parado",
            sites_nav: "Sedes y mapa",
            offline: "No se pudo cargar el mapa. Todas las sedes figuran abajo.",
        },
        Lang::PtBr => &MapWords {
            title: "Unidades",
            lead: "Onde estão seus equipamentos, e as últimas visitas de cada um com os relatórios.",
            map: "Mapa das suas unidades",
            no_sites: "Ainda não há unidades: seus equipamentos estão listados abaixo.",
            other_places: "Equipamentos sem unidade",
            machines: "Equipamentos",
            no_machines: "Nenhum equipamento nesta unidade.",
            visits: "Últimas visitas",
            no_visits: "Nenhuma visita ainda.",
            report: "Relatório da visita",
            open_in_maps: "Abrir num mapa",
            no_coordinates: "Fora do mapa: ainda sem coordenadas.",
            down: "parado",
            sites_nav: "Unidades e mapa",
            offline: "Não foi possível carregar o mapa. Todas as unidades estão listadas abaixo.",
        },
    }
}

/// A machine and its latest visits.
pub struct MapMachine {
    pub m: MachineView,
    pub visits: Vec<VisitView>,
}

pub struct SiteView {
    pub id: String,
    pub name: String,
    pub address: String,
    /// `(latitude, longitude)` as decimal degrees.
    pub point: Option<(String, String)>,
    pub machines: Vec<MapMachine>,
    /// Machines down here.
    pub down: usize,
}

impl SiteView {
    /// A link that opens the point in a map (the client's choice of app on a phone).
    pub fn map_link(&self) -> String {
        self.point.as_ref().map_or_else(String::new, |(lat, lon)| {
            format!("https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=17/{lat}/{lon}")
        })
    }
}

#[derive(Template)]
#[template(path = "portal/map.html")]
struct MapPage {
    l: Layout,
    w: &'static MapWords,
    /// The tile address, when the map draws.
    tiles: String,
    attribution: String,
    sites: Vec<SiteView>,
    /// Machines at no site.
    others: Vec<MapMachine>,
    on_map: usize,
}

fn api(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// `GET /portal/map`.
pub async fn page(State(state): State<AppState>, client: Client) -> Result<Response, Response> {
    let lang = client.lang;
    let w = map_words(lang);
    let sites = state
        .store
        .sites_for_client(&client.scope)
        .await
        .map_err(api)?;
    let machines = state
        .store
        .machines_for_client(&client.scope)
        .await
        .map_err(api)?;
    let last = crate::kit::machines::last_readings(&state.store, &machines)
        .await
        .map_err(api)?;
    let cal = crate::kit::visits::calendar(&state);
    let mut visits: HashMap<String, Vec<VisitView>> = HashMap::new();
    for x in state
        .store
        .latest_visits_for_client(&client.scope, VISITS_PER_MACHINE)
        .await
        .map_err(api)?
    {
        let view = crate::kit::visits::visit_view(&x, &cal, lang);
        visits.entry(x.machine_id).or_default().push(view);
    }
    // Each machine under its site (one of its company's, or none), down ones first.
    let mut by_site: HashMap<Option<String>, Vec<MapMachine>> = HashMap::new();
    for m in &machines {
        by_site
            .entry(m.site_id.clone())
            .or_default()
            .push(MapMachine {
                m: machine_view(m, last.get(&m.id), lang),
                visits: visits.remove(&m.id).unwrap_or_default(),
            });
    }
    for list in by_site.values_mut() {
        list.sort_by_key(|x| x.m.status != "down");
    }
    let mut views: Vec<SiteView> = sites
        .iter()
        .map(|s| {
            let here = by_site.remove(&Some(s.id.clone())).unwrap_or_default();
            SiteView {
                id: s.id.clone(),
                name: s.name.clone(),
                address: s.address.clone().unwrap_or_default(),
                point: s
                    .lat_e6
                    .zip(s.lon_e6)
                    .map(|(a, b)| (degrees(a), degrees(b))),
                down: here.iter().filter(|x| x.m.status == "down").count(),
                machines: here,
            }
        })
        .collect();
    // Sites with machines down first, then those with machines, by name within each.
    views.sort_by_key(|s| (s.down == 0, s.machines.is_empty()));
    let others = by_site.remove(&None).unwrap_or_default();
    let tiles = state.config.portal.map_tiles.trim().to_owned();
    let origin = if tiles.is_empty() {
        None
    } else {
        tile_origin(&tiles).ok()
    };
    let on_map = views.iter().filter(|s| s.point.is_some()).count();
    let page = MapPage {
        l: Layout::client(&state, &client, w.title.to_owned(), "equipment"),
        w,
        tiles: if origin.is_some() && on_map > 0 {
            tiles
        } else {
            String::new()
        },
        attribution: state.config.portal.map_attribution.clone(),
        sites: views,
        others,
        on_map,
    };
    let mut resp = private(render(&page));
    if let Some(origin) = origin.filter(|_| on_map > 0) {
        let policy = CONTENT_SECURITY_POLICY.replace(
            "img-src 'self' data: blob:",
            &format!("img-src 'self' data: blob: {origin}"),
        );
        if let Ok(v) = HeaderValue::from_str(&policy) {
            resp.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    Ok(resp)
}
