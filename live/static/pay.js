/*
 * The development payment provider's page (`LIVE_PAYMENT_PROVIDER=dev`): what a payment
 * provider's H5 page does. It shows the order, and its Pay button makes the server send the
 * signed payment notification; then it goes back to the page the viewer came from.
 */
(function () {
  "use strict";
  const {$, money, act} = LiveUI;
  const t = LiveI18n.t;
  const STATUSES = ["expired", "cancelled", "refund_required", "refunded"];
  const orderId = decodeURIComponent(location.pathname.split("/").pop());
  const wanted = new URLSearchParams(location.search).get("back") || "";
  // Only a path of this site: a link elsewhere must not turn this page into a redirector.
  const back = /^\/[^/\\]/.test(wanted) ? wanted : "/";

  async function main() {
    await LiveI18n.ready;
    // The viewer's sign-in is the live room's (kept by the browser).
    const {token} = await LiveUI.signIn({page: "watch", roles: ["viewer"],
      defaultName: t("viewer.name_placeholder")});
    const api = LiveClient.api({token: token});
    $("#checkout").hidden = false;
    $("#back").href = back;
    const order = await act(null, () => api.getOrder(orderId));
    if (!order) return;
    render(order);
    $("#pay").onclick = async (event) => {
      const paid = await act(event.currentTarget, () => api.devPay(orderId));
      if (!paid) return;
      render(Object.assign(order, {status: paid.status}));
      setTimeout(() => { location.href = back; }, 1200);
    };
  }

  function render(order) {
    $("#pay-title").textContent = order.title || t("shop.your_order");
    const options = Object.entries(order.options || {}).map(([k, v]) => k + ": " + v).join(", ");
    $("#pay-options").textContent = (options ? options + " · " : "") + t("pay.quantity", {n: order.qty});
    $("#pay-amount").textContent = money(order.amount_cents);
    const image = $("#pay-image");
    image.hidden = !order.image_url;
    if (order.image_url) image.src = order.image_url;
    const pay = $("#pay");
    pay.textContent = t("shop.pay_amount", {amount: money(order.amount_cents)});
    const state = $("#pay-state");
    if (order.status === "reserved") {
      state.textContent = t("pay.reserved_until", {time: LiveI18n.time(order.expires_at)});
    } else if (order.status === "paid") {
      state.textContent = t("pay.paid_going_back");
    } else {
      state.textContent = t("pay.order_is", {status: STATUSES.includes(order.status)
        ? t("pay.status_" + order.status) : order.status});
    }
    state.dataset.status = order.status;
    pay.disabled = order.status !== "reserved";
  }

  main();
})();
