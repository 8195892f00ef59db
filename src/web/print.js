// SPDX-License-Identifier: MIT
// print.js: the parcel sheet's Print button (the sheet itself is server-made HTML, /print/parcel/).
document.getElementById('print')?.addEventListener('click', () => window.print());
