// The desk page's read-only list of today's appointments for the desk's offices: who is
// booked next and who has already arrived (with their ticket). Reception checks them in.
import {api, clockTime, element} from "./pages.js";

/** The list in `root` (an <ol>); `load()` on every (re)connection, `update(appointment)`
 *  for each live `appointment_changed`. */
export function appointmentList(root, {today, offices, labels, empty}) {
  const shown = new Map();  // id -> appointment

  function render() {
    const mine = [...shown.values()]
      .filter((each) => offices.includes(each.office) && each.start.slice(0, 10) === today &&
              ["booked", "checked_in"].includes(each.status))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id - b.id));
    root.replaceChildren(...mine.map((each) => {
      const item = element("li");
      item.dataset.status = each.status;
      item.dataset.code = each.code;
      item.append(element("span", "time", clockTime(each.start)), " ",
                  element("span", "name", each.name || each.code), " ",
                  element("span", `badge status-${each.status}`,
                          each.ticket ? `${labels[each.status]} · ${each.ticket}`
                                      : labels[each.status]));
      return item;
    }));
    empty.hidden = mine.length > 0;
  }

  return {
    async load() {
      const {data: day} = await api("GET", `/appointments?date=${today}`);
      shown.clear();
      day.forEach((each) => shown.set(each.id, each));
      render();
    },
    update(appointment) {
      shown.set(appointment.id, appointment);
      render();
    },
  };
}
